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
    private let thread = Mutex<Int32?>(nil)
    /// Counts enqueued jobs (plus one for shutdown) so the thread sleeps while there are none.
    private let available = DispatchSemaphore(value: 0)

    /// Starts the thread, named `name`.
    public init(name: String) {
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            self.thread.withLock { $0 = RunQueueWaits.currentThread }
            started.signal()
            run()
        }
        thread.name = name
        thread.start()
        started.wait()
    }

    /// The kernel's ID of the executor's thread (for `/proc/self/task/ID`).
    public var threadID: Int32 {
        thread.withLock { $0 ?? 0 }
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

/// What ``cancelAndTime(after:workers:underWay:_:)`` saw.
public struct CancelTiming: Sendable {
    /// Whether the call was still under way when it was cancelled.
    public var wasUnderWay: Bool
    /// What the call threw (`nil`: it returned).
    public var error: (any Error)?
    /// From the cancel to the call's return, on the wall clock.
    public var latency: Duration
    /// How much of ``latency`` the threads on the way (the call's task's thread and the workers) spent
    /// runnable but waiting for a CPU: the machine's share, not the code's.
    public var waitedForCPU: Duration

    /// ``latency`` less ``waitedForCPU``: how long the code took to give up, measured with a clock that the
    /// machine's load does not move (at least while the threads on the way live).
    public var ownLatency: Duration { latency - waitedForCPU }
}

/// Runs `body` in a task on a thread of its own, cancels it once `underWay` holds (waiting at most 10 s) and
/// `after` more has passed, and returns whether it was still under way then, its error, and how long after the
/// cancel it returned, measured in that task: how soon the call gave up, not how soon the test's own task was
/// scheduled again. It also returns how long, meanwhile, the task's thread and the `workers` threads (where the
/// call blocks, as found at the cancel) waited for a CPU, so a test can tell the code's delay from the machine's.
public func cancelAndTime(
    after: Duration,
    workers: @escaping @Sendable () -> [Int32],
    underWay: @escaping @Sendable () -> Bool,
    _ body: @escaping @Sendable () async throws -> Void
) async throws -> CancelTiming {
    let executor = ThreadTaskExecutor(name: "cancel-timer")
    defer { executor.shutdown() }
    // The threads on the way, as the cancel finds them; read again the moment the call returns.
    let onTheWay = ThreadsOnTheWay()
    let running = Task(executorPreference: executor) {
        () -> (error: (any Error)?, ended: ContinuousClock.Instant, waits: RunQueueWaits) in
        var error: (any Error)?
        do {
            try await body()
        } catch let thrown {
            error = thrown
        }
        let ended = ContinuousClock.now
        return (error, ended, RunQueueWaits(threads: onTheWay.ids.withLock { $0 }))
    }
    // The wait and the cancel run on a thread of their own too: on the shared cooperative pool the 300 ms a test
    // gives the call could become seconds, and the call could end on a timeout of its own before the cancel came
    // (seen: libcurl's 5 s low-speed limit ended a PAC fetch first).
    let driver = ThreadTaskExecutor(name: "cancel-driver")
    defer { driver.shutdown() }
    let cancelling = Task(executorPreference: driver) {
        () async throws -> (wasUnderWay: Bool, cancelled: ContinuousClock.Instant, before: RunQueueWaits) in
        await waitUntil { underWay() }
        try await Task.sleep(for: after)
        let wasUnderWay = underWay()
        let threads = [executor.threadID] + workers()
        onTheWay.ids.withLock { $0 = threads }
        let before = RunQueueWaits(threads: threads)
        let cancelled = ContinuousClock.now
        running.cancel()
        return (wasUnderWay, cancelled, before)
    }
    let (wasUnderWay, cancelled, before) = try await cancelling.value
    let outcome = await running.value
    return CancelTiming(
        wasUnderWay: wasUnderWay,
        error: outcome.error,
        latency: outcome.ended - cancelled,
        waitedForCPU: outcome.waits.waited(since: before)
    )
}

/// The threads whose run-queue wait ``cancelAndTime(after:workers:underWay:_:)`` reads, set by the cancelling task
/// and read by the cancelled one.
private final class ThreadsOnTheWay: Sendable {
    let ids = Mutex<[Int32]>([])
}
