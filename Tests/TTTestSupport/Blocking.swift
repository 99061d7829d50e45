import Foundation

/// Runs blocking work (a synchronous client, a relay) on a thread of its own and awaits its result, so tests
/// never block Swift concurrency's small cooperative thread pool, nor libdispatch's global queues: on Linux
/// those grow by about one thread a second when their threads block, which stalled whole suites.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
