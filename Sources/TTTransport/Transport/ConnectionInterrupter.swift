import Glibc
import Synchronization

/// Lets another thread stop a blocking transport operation at once: opening a connection (libcurl's TCP
/// connect, proxy exchange and TLS handshake), fetching or evaluating a PAC script, or a wait on an open
/// connection. TTClient's `AsyncFrameworkClient` cancels through it, and so does the async
/// ``ProxyAutoConfig/resolve(location:target:deadline:)``.
///
/// The blocked thread attaches each descriptor it waits on while it is open (libcurl's sockets from the moment
/// libcurl creates them). ``interrupt()`` runs `shutdown(2)` on each: that wakes a `poll(2)` or `recv(2)` blocked
/// on it at once (the read sees end of stream, a connect in progress is abandoned) without freeing the
/// descriptor, so it can never hit a reused descriptor number: descriptors are detached, under the same lock,
/// before they are closed. What waits on no descriptor of its own (a PAC evaluation's child process, libcurl
/// between two steps) asks ``isInterrupted``. Once interrupted, no descriptor can be attached: every later
/// connection attempt of the operation fails at once.
public final class ConnectionInterrupter: Sendable {
    private struct State {
        /// The operation running now (`AsyncFrameworkClient` numbers them); an interrupt for another is stale.
        var job: UInt64 = 0
        var descriptors: Set<Int32> = []
        var interrupted = false
    }

    private let state = Mutex(State())

    /// An interrupter for one operation, not interrupted yet.
    public init() {}

    /// Interrupts the operation running now (or about to run): shuts its connections down.
    public func interrupt() {
        state.withLock { Self.interrupt(&$0) }
    }

    /// Whether the running operation was interrupted.
    public var isInterrupted: Bool { state.withLock { $0.interrupted } }

    /// Starts operation `job`: earlier interrupts no longer apply.
    package func begin(job: UInt64) {
        state.withLock {
            $0.job = job
            $0.interrupted = false
        }
    }

    /// Interrupts operation `job` if it is the one running (or about to run).
    package func interrupt(job: UInt64) {
        state.withLock {
            guard $0.job == job else { return }
            Self.interrupt(&$0)
        }
    }

    private static func interrupt(_ state: inout State) {
        state.interrupted = true
        for descriptor in state.descriptors { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Records an open descriptor; `false` (attach nothing) when the operation was interrupted already.
    package func attach(_ descriptor: Int32) -> Bool {
        state.withLock {
            guard !$0.interrupted else { return false }
            if descriptor >= 0 { $0.descriptors.insert(descriptor) }
            return true
        }
    }

    /// Forgets `descriptor`; call before closing it.
    package func detach(_ descriptor: Int32) {
        _ = state.withLock { $0.descriptors.remove(descriptor) }
    }

    /// Forgets every descriptor; call before closing them.
    package func detachAll() {
        state.withLock { $0.descriptors.removeAll() }
    }
}
