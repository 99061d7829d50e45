import Foundation
import Synchronization

/// A task executor with one thread of its own, for tests that time how soon an async call returns: a task
/// preferring it runs, and resumes after each `await`, on that thread. On Swift's shared cooperative pool the
/// measurement would include however long other suites' tests keep the pool's threads busy (measured: up to 5 s
/// in a parallel run of four test targets, while the call itself had returned within a millisecond).
public final class ThreadTaskExecutor: TaskExecutor {
    private struct State {
        var jobs: [UnownedJob] = []
        var isShutDown = false
    }

    private let state = Mutex(State())
    /// Counts enqueued jobs (plus one for shutdown) so the thread sleeps while there are none.
    private let available = DispatchSemaphore(value: 0)

    /// Starts the thread, named `name`.
    public init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
        available.signal()
    }

    /// Lets the thread end once the jobs enqueued so far have run.
    public func shutdown() {
        state.withLock { $0.isShutDown = true }
        available.signal()
    }

    private func run() {
        // Bounded by the test: it ends after shutdown() once the queue is empty.
        while true {
            available.wait()
            let next: UnownedJob? = state.withLock { $0.jobs.isEmpty ? nil : $0.jobs.removeFirst() }
            if let next {
                next.runSynchronously(on: asUnownedTaskExecutor())
            } else if state.withLock({ $0.isShutDown && $0.jobs.isEmpty }) {
                return
            }
        }
    }
}

/// Runs `body` in a task on a thread of its own, cancels it once `underWay` holds (waiting at most 10 s) and
/// `after` more has passed, and returns whether it was still under way then, its error, and how long after the
/// cancel it returned, measured in that task: how soon the call gave up, not how soon the test's own task was
/// scheduled again.
public func cancelAndTime(
    after: Duration,
    underWay: @escaping @Sendable () -> Bool,
    _ body: @escaping @Sendable () async throws -> Void
) async throws -> (wasUnderWay: Bool, error: (any Error)?, latency: Duration) {
    let executor = ThreadTaskExecutor(name: "cancel-timer")
    defer { executor.shutdown() }
    let running = Task(executorPreference: executor) { () -> ((any Error)?, ContinuousClock.Instant) in
        do {
            try await body()
            return (nil, .now)
        } catch {
            return (error, .now)
        }
    }
    await waitUntil { underWay() }
    try await Task.sleep(for: after)
    let wasUnderWay = underWay()
    let cancelled = ContinuousClock.now
    running.cancel()
    let (error, ended) = await running.value
    return (wasUnderWay, error, ended - cancelled)
}
