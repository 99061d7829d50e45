import Dispatch
import Synchronization
import TTBasics

/// One thread of its own, on which ``AsyncFrameworkClient`` runs the blocking client's waits that may take long.
///
/// The client blocks in `poll(2)` for as long as a connection set-up or a slow answer takes: on Swift's
/// cooperative thread pool (one thread per core) that would starve every other task. Here it blocks only this
/// thread. Work runs in the order it was given. The thread ends after ``shutdown()`` once the work already given
/// has run.
final class ClientThread: Sendable {
    private struct State {
        var work: [@Sendable () -> Void] = []
        var isShutDown = false
    }

    private let state = Mutex(State())
    /// Counts the work given (plus one for shutdown) so the thread sleeps while there is none.
    private let available = DispatchSemaphore(value: 0)

    /// Starts the thread, named `name` (Linux shows up to 15 characters of it, e.g. in `top -H`).
    init(name: String) {
        do {
            try OSThread.detach(name: name) { [self] in loop() }
        } catch {
            // As Foundation's Thread did: without its thread the client could never run a job.
            fatalError("cannot start the client thread \(name): \(error)")
        }
    }

    /// Runs `body` on the thread after the work given before it.
    func run(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.work.append(body) }
        available.signal()
    }

    /// Lets the thread end once the work given so far has run.
    func shutdown() {
        state.withLock { $0.isShutDown = true }
        available.signal()
    }

    private func loop() {
        while true {
            available.wait()
            let next: (@Sendable () -> Void)? = state.withLock {
                $0.work.isEmpty ? nil : $0.work.removeFirst()
            }
            if let next {
                next()
            } else if state.withLock({ $0.isShutDown && $0.work.isEmpty }) {
                return
            }
        }
    }
}
