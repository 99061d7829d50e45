import Dispatch
import Synchronization
import TTBasics

/// A serial executor with one thread of its own, on which ``AsyncFrameworkClient`` runs the blocking client.
///
/// The client blocks in `poll(2)` for as long as a request takes: on Swift's cooperative thread pool (one thread
/// per core) that would starve every other task. Here it blocks only this thread. The thread ends after
/// ``shutdown()`` once the jobs already enqueued have run.
final class ClientThreadExecutor: SerialExecutor {
    private struct State {
        var jobs: [UnownedJob] = []
        var isShutDown = false
    }

    private let state = Mutex(State())
    /// Counts enqueued jobs (plus one for shutdown) so the thread sleeps while there are none.
    private let available = DispatchSemaphore(value: 0)

    /// Starts the thread, named `name` (Linux shows up to 15 characters of it, e.g. in `top -H`).
    init(name: String) {
        do {
            try OSThread.detach(name: name) { [self] in run() }
        } catch {
            // As Foundation's Thread did: without its thread the client could never run a job.
            fatalError("cannot start the client thread \(name): \(error)")
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
        available.signal()
    }

    /// Lets the thread end once the jobs enqueued so far have run.
    func shutdown() {
        state.withLock { $0.isShutDown = true }
        available.signal()
    }

    private func run() {
        while true {
            available.wait()
            let next: UnownedJob? = state.withLock {
                $0.jobs.isEmpty ? nil : $0.jobs.removeFirst()
            }
            if let next {
                next.runSynchronously(on: asUnownedSerialExecutor())
            } else if state.withLock({ $0.isShutDown && $0.jobs.isEmpty }) {
                return
            }
        }
    }
}
