import Foundation

/// Runs blocking transport code on its own thread, so it never ties up Swift's cooperative pool (two cores,
/// tests in parallel) and so a non-`Sendable` transport lives and dies on one thread.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}
