import Dispatch

/// Runs blocking work (a synchronous client, a relay) on a global dispatch queue and awaits its result, so
/// tests never block Swift concurrency's small cooperative thread pool.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}
