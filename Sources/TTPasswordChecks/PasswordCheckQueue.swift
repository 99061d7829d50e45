import NIOConcurrencyHelpers
package import NIOCore
package import NIOPosix

/// The one fair queue of password checks, shared by tt-server's Login and tt-proxy's Basic auth.
///
/// At most `maxRunning` checks run at once (PBKDF2 and bcrypt are slow on purpose; unauthenticated peers must
/// not take the threads other work needs). Further checks wait in one queue per source (``SourceKey``: an IPv4
/// address, an IPv6 /64), and sources take turns. Three lanes, served in this order, keep many addresses from
/// beating that:
/// - the **known** lane: a source with a successful check in the last ``Limits/recentSuccessMemory``.
/// - the **trusted-user** lane: a new source naming a user with such a success. A user's trust carries to new
///   addresses for at most ``Limits/userTrustFailures`` failed checks, counting the checks still waiting or
///   running on it: a flood of new addresses naming that user arrives before any of its checks has failed, and
///   took 83 places here when only finished failures counted. Any guesser can name a user, so these checks wait
///   behind the known sources'.
/// - the **unproven** lane: everyone else. Together its sources may have at most ``Limits/maxQueuedUnproven``
///   checks waiting; past that a check is refused at once, however many addresses the checks come from.
/// A refused check is not run: the caller answers busy.
package final class PasswordCheckQueue: Sendable {
    /// How much the queue holds and remembers.
    package struct Limits: Sendable {
        /// Checks running at once.
        package var maxRunning: Int
        /// Checks one source may have waiting.
        package var maxQueuedPerSource: Int
        /// Checks waiting in all.
        package var maxQueued: Int
        /// Checks sources without a recent success may have waiting together.
        package var maxQueuedUnproven: Int
        /// How long a successful check makes its source and user known.
        package var recentSuccessMemory: Duration = .seconds(3600)
        /// Failed checks a known user may have from unknown sources before their trust ends (until the next
        /// success).
        package var userTrustFailures = 3
        /// Sources and users remembered; past this the oldest are forgotten.
        package var maxRemembered = 4096
        /// Failed checks per second all unproven sources together may cause (a burst of twice this is allowed);
        /// when spent, unproven checks are refused until it refills. `nil`: no global budget.
        package var unprovenFailuresPerSecond: Double?

        package init(maxRunning: Int, maxQueuedPerSource: Int, maxQueued: Int, maxQueuedUnproven: Int) {
            self.maxRunning = max(1, maxRunning)
            self.maxQueuedPerSource = max(0, maxQueuedPerSource)
            self.maxQueued = max(0, maxQueued)
            self.maxQueuedUnproven = max(0, maxQueuedUnproven)
        }
    }

    private enum Lane: Int {
        case known = 0
        case trustedUser = 1
        case unproven = 2
    }

    private struct Job: Sendable {
        let source: String
        let user: String
        let lane: Lane
        let promise: EventLoopPromise<Bool>
        let check: @Sendable () -> Bool
    }

    private struct LaneState {
        var queues: [String: CircularBuffer<Job>] = [:]
        /// Sources with waiting checks, in the order they are served next.
        var turn = CircularBuffer<String>()
        var queued = 0
    }

    /// A user with a recent success.
    private struct KnownUser {
        var at: NIODeadline
        /// Failed checks from unknown sources since that success.
        var failures = 0
        /// Checks waiting or running in the trusted-user lane on this user's trust: they count against
        /// ``Limits/userTrustFailures`` before they fail.
        var borrowed = 0
    }

    private struct State {
        var running = 0
        var lanes = [LaneState(), LaneState(), LaneState()]
        var queued: Int { lanes.reduce(0) { $0 + $1.queued } }
        var knownSources: [String: NIODeadline] = [:]
        var knownUsers: [String: KnownUser] = [:]
        /// The global failure budget of unproven sources: tokens left, and when it was last refilled.
        var failureTokens: Double = .infinity
        var refilled = NIODeadline.now()
    }

    private let threadPool: NIOThreadPool
    private let limits: Limits
    private let state = NIOLockedValueBox(State())

    package init(threadPool: NIOThreadPool, limits: Limits) {
        self.threadPool = threadPool
        self.limits = limits
    }

    /// Checks running or waiting right now.
    package var pending: Int { state.withLockedValue { $0.running + $0.queued } }

    /// Runs `check` (of `user`'s password, from `source`, a ``SourceKey``) on the thread pool when its turn comes.
    /// - Returns: Whether the check passed, on `eventLoop`; or `nil` when it was refused without running.
    package func submit(
        source: String,
        user: String,
        on eventLoop: any EventLoop,
        _ check: @escaping @Sendable () -> Bool
    ) -> EventLoopFuture<Bool>? {
        let limits = self.limits
        let promise = eventLoop.makePromise(of: Bool.self)
        let admitted: Job?? = state.withLockedValue { state in
            let lane = Self.lane(source: source, user: user, state: &state, limits: limits)
            let job = Job(source: source, user: user, lane: lane, promise: promise, check: check)
            if lane == .unproven, let rate = limits.unprovenFailuresPerSecond {
                let now = NIODeadline.now()
                let elapsed = Double((now - state.refilled).nanoseconds) / 1e9
                state.failureTokens = min(2 * rate, state.failureTokens + elapsed * rate)
                state.refilled = now
                guard state.failureTokens >= 1 else { return nil }
            }
            if state.running < limits.maxRunning, state.queued == 0 {
                state.running += 1
                if lane == .trustedUser { state.knownUsers[user]?.borrowed += 1 }
                return .some(job)
            }
            let waiting = state.lanes[lane.rawValue].queues[source]?.count ?? 0
            guard waiting < limits.maxQueuedPerSource, state.queued < limits.maxQueued else { return nil }
            if lane == .unproven, state.lanes[lane.rawValue].queued >= limits.maxQueuedUnproven { return nil }
            if lane == .trustedUser { state.knownUsers[user]?.borrowed += 1 }
            if waiting == 0 { state.lanes[lane.rawValue].turn.append(source) }
            state.lanes[lane.rawValue].queues[source, default: CircularBuffer()].append(job)
            state.lanes[lane.rawValue].queued += 1
            return .some(nil)
        }
        switch admitted {
        case .none:
            promise.fail(PasswordCheckRefused())
            return nil
        case .some(.some(let job)):
            run(job)
        case .some(.none):
            break
        }
        return promise.futureResult
    }

    private static func lane(source: String, user: String, state: inout State, limits: Limits) -> Lane {
        let now = NIODeadline.now()
        let memory = TimeAmount(limits.recentSuccessMemory)
        if let at = state.knownSources[source] {
            if now - at <= memory { return .known }
            state.knownSources[source] = nil
        }
        if let known = state.knownUsers[user] {
            if now - known.at > memory {
                state.knownUsers[user] = nil
            } else if known.failures + known.borrowed < limits.userTrustFailures {
                return .trustedUser
            }
        }
        return .unproven
    }

    private func run(_ job: Job) {
        threadPool.submit { work in
            let accepted = work == .active ? job.check() : false
            self.finished(job, accepted: accepted)
            job.promise.succeed(accepted)
        }
    }

    /// Remembers the outcome and hands the freed slot to the next source in turn, lane by lane.
    private func finished(_ job: Job, accepted: Bool) {
        let limits = self.limits
        let next: Job? = state.withLockedValue { state in
            let now = NIODeadline.now()
            if job.lane == .trustedUser, let borrowed = state.knownUsers[job.user]?.borrowed {
                state.knownUsers[job.user]?.borrowed = max(0, borrowed - 1)
            }
            if accepted {
                state.knownSources[job.source] = now
                var known = state.knownUsers[job.user] ?? KnownUser(at: now)
                known.at = now
                known.failures = 0
                state.knownUsers[job.user] = known
                Self.forgetOldest(&state, limits: limits)
            } else {
                if job.lane == .unproven { state.failureTokens = max(0, state.failureTokens - 1) }
                if state.knownSources[job.source] == nil, var known = state.knownUsers[job.user] {
                    known.failures += 1
                    state.knownUsers[job.user] = known
                }
            }
            for index in state.lanes.indices {
                guard let source = state.lanes[index].turn.popFirst(),
                    var queue = state.lanes[index].queues[source], let next = queue.popFirst()
                else { continue }
                state.lanes[index].queued -= 1
                if queue.isEmpty {
                    state.lanes[index].queues[source] = nil
                } else {
                    state.lanes[index].queues[source] = queue
                    state.lanes[index].turn.append(source)
                }
                return next
            }
            state.running -= 1
            return nil
        }
        if let next { run(next) }
    }

    /// Keeps the memory of successes bounded: the oldest go first, down to three quarters, so this runs rarely.
    private static func forgetOldest(_ state: inout State, limits: Limits) {
        let target = max(1, limits.maxRemembered * 3 / 4)
        if state.knownSources.count > limits.maxRemembered {
            for (key, _) in state.knownSources.sorted(by: { $0.value < $1.value }).prefix(
                state.knownSources.count - target
            ) { state.knownSources[key] = nil }
        }
        if state.knownUsers.count > limits.maxRemembered {
            for (key, _) in state.knownUsers.sorted(by: { $0.value.at < $1.value.at }).prefix(
                state.knownUsers.count - target
            ) { state.knownUsers[key] = nil }
        }
    }
}

/// A password check refused without running: its source's queue, its lane, or all queues are full.
package struct PasswordCheckRefused: Error {}
