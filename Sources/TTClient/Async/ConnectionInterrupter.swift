import Glibc
import Synchronization

/// Lets another thread stop what a ``FrameworkClient`` is blocked in, for ``AsyncFrameworkClient``'s cancellation.
///
/// The client's thread attaches the descriptor of each connection it opens and detaches it before closing it.
/// ``interrupt(job:)`` runs `shutdown(2)` on the attached descriptor: that wakes a `poll(2)` or `recv(2)` blocked on
/// it in the client's thread at once (the read sees end of stream) without freeing the descriptor, so it can never
/// hit a reused descriptor number: closing happens only in the client's thread, after ``detach()``, under the same
/// lock. The client then sees ``isInterrupted`` and neither reconnects nor retries.
final class ConnectionInterrupter: Sendable {
    private struct State {
        /// The operation running now (``AsyncFrameworkClient`` numbers them); an interrupt for another is stale.
        var job: UInt64 = 0
        var descriptor: Int32?
        var interrupted = false
    }

    private let state = Mutex(State())

    /// Starts operation `job`: earlier interrupts no longer apply.
    func begin(job: UInt64) {
        state.withLock {
            $0.job = job
            $0.interrupted = false
        }
    }

    /// Interrupts operation `job` if it is the one running (or about to run): shuts the connection down.
    func interrupt(job: UInt64) {
        state.withLock {
            guard $0.job == job else { return }
            $0.interrupted = true
            if let descriptor = $0.descriptor { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
    }

    /// Whether the running operation was interrupted.
    var isInterrupted: Bool { state.withLock { $0.interrupted } }

    /// Records the open connection's descriptor; `false` (attach nothing) when the operation was interrupted already.
    func attach(_ descriptor: Int32) -> Bool {
        state.withLock {
            guard !$0.interrupted else { return false }
            $0.descriptor = descriptor >= 0 ? descriptor : nil
            return true
        }
    }

    /// Forgets the descriptor; call before closing it.
    func detach() {
        state.withLock { $0.descriptor = nil }
    }
}
