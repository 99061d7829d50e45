import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Password checks, served fairly per source address on a small share of the thread pool.
///
/// At most `maxRunning` checks run at once (PBKDF2 is slow on purpose; unauthenticated peers must not take the
/// threads logged-in sessions need). Further checks wait in one queue per source address, and the queues are
/// served round-robin: a flood from one address only lengthens its own queue, while a login from another address
/// waits for at most one check per active address. A queue holds at most `maxQueuedPerSource` checks, all queues
/// together at most `maxQueued`; past that a login is refused at once (the caller answers `Server busy`).
final class LoginQueue: Sendable {
    private struct Job: Sendable {
        let promise: EventLoopPromise<Bool>
        let check: @Sendable () -> Bool
    }

    private struct State {
        var running = 0
        var queued = 0
        var queues: [String: CircularBuffer<Job>] = [:]
        /// Sources with waiting checks, in the order they are served next.
        var turn = CircularBuffer<String>()
    }

    private let threadPool: NIOThreadPool
    private let maxRunning: Int
    private let maxQueuedPerSource: Int
    private let maxQueued: Int
    private let state = NIOLockedValueBox(State())

    init(threadPool: NIOThreadPool, maxRunning: Int, maxQueuedPerSource: Int, maxQueued: Int) {
        self.threadPool = threadPool
        self.maxRunning = max(1, maxRunning)
        self.maxQueuedPerSource = max(0, maxQueuedPerSource)
        self.maxQueued = max(0, maxQueued)
    }

    /// Checks running or waiting right now.
    var pending: Int { state.withLockedValue { $0.running + $0.queued } }

    /// Runs `check` on the thread pool when its turn comes.
    /// - Returns: The result on `eventLoop`, or `nil` when the queue of `source` (or all queues) are full.
    func submit(
        source: String,
        on eventLoop: any EventLoop,
        _ check: @escaping @Sendable () -> Bool
    ) -> EventLoopFuture<Bool>? {
        let job = Job(promise: eventLoop.makePromise(of: Bool.self), check: check)
        let admitted: Bool? = state.withLockedValue { state in
            if state.running < maxRunning, state.queued == 0 {
                state.running += 1
                return true
            }
            let waiting = state.queues[source]?.count ?? 0
            guard waiting < maxQueuedPerSource, state.queued < maxQueued else { return nil }
            if waiting == 0 { state.turn.append(source) }
            state.queues[source, default: CircularBuffer()].append(job)
            state.queued += 1
            return false
        }
        guard let admitted else {
            job.promise.fail(LoginQueueFull())
            return nil
        }
        if admitted { run(job) }
        return job.promise.futureResult
    }

    private func run(_ job: Job) {
        threadPool.submit { work in
            let accepted = work == .active ? job.check() : false
            job.promise.succeed(accepted)
            self.finished()
        }
    }

    /// Hands the freed slot to the next source in turn.
    private func finished() {
        let next: Job? = state.withLockedValue { state in
            guard let source = state.turn.popFirst(), var queue = state.queues[source], let job = queue.popFirst()
            else {
                state.running -= 1
                return nil
            }
            state.queued -= 1
            if queue.isEmpty {
                state.queues[source] = nil
            } else {
                state.queues[source] = queue
                state.turn.append(source)
            }
            return job
        }
        if let next { run(next) }
    }
}

/// A login refused because its source's queue of password checks is full.
struct LoginQueueFull: Error {}
