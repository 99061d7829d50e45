import Dispatch
public import NIOPosix

/// A one-thread pool whose thread is held by a job until ``release()``: work a server offloads to it waits, so
/// a test can tell work done on the event loop from work done on the pool, and fill offload budgets at will.
public final class HeldThreadPool: Sendable {
    public let pool = NIOThreadPool(numberOfThreads: 1)
    private let gate = DispatchSemaphore(value: 0)

    /// - Parameter held: Whether the thread is held from the start; otherwise ``hold()`` holds it later (after
    ///   logins, whose password checks need the pool too).
    public init(held: Bool = true) {
        pool.start()
        if held { hold() }
    }

    /// Holds the pool's thread with a job that waits for ``release()``.
    public func hold() {
        let gate = self.gate
        pool.submit { _ in gate.wait() }
    }

    /// Lets the pool's thread go; calling it again is harmless.
    public func release() {
        gate.signal()
    }

    /// Releases the thread and stops the pool.
    public func shutdown() async {
        release()
        try? await pool.shutdownGracefully()
    }
}
