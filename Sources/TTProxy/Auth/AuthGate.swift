import NIOCore
import NIOPosix
import Synchronization
import TTPasswordChecks

/// Limits on Basic auth password checks; see ``ProxyServerConfiguration/authLimits``.
public struct AuthLimits: Sendable {
    /// Password checks running at once, each on a thread of the proxy's own pool (this many threads, used for
    /// nothing else, so no other work queues in front of a check). Default: the number of cores.
    public var maxConcurrentChecks = max(1, System.coreCount)
    /// Checks waiting from one source address; a request past this gets `503` without a check.
    public var maxPendingPerSource = 8
    /// Checks waiting in total; a request past this gets `503` without a check.
    public var maxPending = 1024
    /// Failed checks from one source address before it is slowed down.
    public var freeFailures = 3
    /// The wait before a source's next check after its first slowed-down failure; it doubles with each further
    /// failure, up to ``maxPenalty``.
    public var basePenalty: Duration = .milliseconds(250)
    /// The longest wait between checks from one source address.
    public var maxPenalty: Duration = .seconds(8)
    /// A source's failures are forgotten after this long without a new one.
    public var failureMemory: Duration = .seconds(600)
    /// Source addresses whose failures are remembered; past this the longest-quiet ones are forgotten first.
    public var maxTrackedSources = 4096
    /// Checks that sources without a recent successful login may have waiting together, however many addresses
    /// they come from; a source or user with a recent success waits in a lane of its own.
    public var maxPendingUnproven = 32
    /// Failed checks per second all sources without a recent success may cause together (bursts of twice this);
    /// past it their checks get `503` without a check, so rotating addresses cannot buy more guesses.
    public var unprovenFailuresPerSecond: Double = 10

    public init() {}
}

/// Runs password checks for all connections of one proxy through the shared fair queue (`PasswordCheckQueue`,
/// the one tt-server's Login uses too): a bounded number at once, fairly across source addresses, a lane of
/// their own for sources and users with a recent success, a global failure budget for the rest; and ever more
/// slowly for an address that keeps failing.
///
/// After ``AuthLimits/freeFailures`` failures an address's next check waits a penalty that doubles with each
/// failure; its checks are then submitted one penalty apart, which caps guessing at about one password per
/// ``AuthLimits/maxPenalty`` from that address.
final class AuthGate: Sendable {
    enum Verdict: Sendable { case accepted, rejected, busy }

    private struct Source {
        var failures = 0
        var lastFailure = NIODeadline.uptimeNanoseconds(0)
        /// When the next check of this source may be submitted.
        var notBefore = NIODeadline.uptimeNanoseconds(0)
        /// Checks held back by a penalty, not yet submitted.
        var delayed = 0
    }

    private let users: HtpasswdFile
    private let limits: AuthLimits
    private let timerLoop: any EventLoop
    private let queue: PasswordCheckQueue
    private let sources = Mutex([String: Source]())

    /// - Parameter threadPool: runs the checks; ``ProxyServer`` gives each proxy a pool of its own.
    init(users: HtpasswdFile, limits: AuthLimits, timerLoop: any EventLoop, threadPool: NIOThreadPool) {
        self.users = users
        self.limits = limits
        self.timerLoop = timerLoop
        var queueLimits = PasswordCheckQueue.Limits(
            maxRunning: limits.maxConcurrentChecks,
            maxQueuedPerSource: limits.maxPendingPerSource,
            maxQueued: limits.maxPending,
            maxQueuedUnproven: limits.maxPendingUnproven
        )
        queueLimits.unprovenFailuresPerSecond = limits.unprovenFailuresPerSecond
        queue = PasswordCheckQueue(threadPool: threadPool, limits: queueLimits)
    }

    /// Source addresses whose failures are remembered now.
    var trackedSources: Int { sources.withLock { $0.count } }

    /// Checks `password` for `user` on behalf of a client at `source`; the verdict arrives on `eventLoop`.
    func check(
        user: String,
        password: String,
        source: String,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Verdict> {
        let limits = self.limits
        let delay: NIODeadline?? = sources.withLock { sources in
            let now = NIODeadline.now()
            guard var entry = sources[source], entry.notBefore > now else { return .some(nil) }
            guard entry.delayed < limits.maxPendingPerSource else { return nil }
            // Held-back checks go one penalty apart, not all at once when the penalty ends.
            let at = entry.notBefore
            entry.notBefore = at + TimeAmount(Self.penalty(failures: entry.failures, limits: limits))
            entry.delayed += 1
            sources[source] = entry
            return .some(at)
        }
        switch delay {
        case .none:
            return eventLoop.makeSucceededFuture(.busy)
        case .some(.none):
            return submit(user: user, password: password, source: source, on: eventLoop)
        case .some(.some(let deadline)):
            let promise = eventLoop.makePromise(of: Verdict.self)
            timerLoop.scheduleTask(deadline: deadline) {
                self.sources.withLock { $0[source]?.delayed -= 1 }
                promise.completeWith(self.submit(user: user, password: password, source: source, on: eventLoop))
            }
            return promise.futureResult
        }
    }

    private func submit(
        user: String,
        password: String,
        source: String,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<Verdict> {
        let users = self.users
        guard
            let checked = queue.submit(
                source: source,
                user: user,
                on: eventLoop,
                {
                    users.verify(user: user, password: password)
                }
            )
        else {
            return eventLoop.makeSucceededFuture(.busy)
        }
        return checked.map { accepted in
            self.finished(source: source, accepted: accepted)
            return accepted ? .accepted : .rejected
        }
    }

    private func finished(source key: String, accepted: Bool) {
        let limits = self.limits
        sources.withLock { sources in
            var entry = sources[key] ?? Source()
            let now = NIODeadline.now()
            if now - entry.lastFailure > TimeAmount(limits.failureMemory) { entry.failures = 0 }
            if !accepted {
                entry.failures += 1
                entry.lastFailure = now
                if entry.failures > limits.freeFailures {
                    entry.notBefore = max(
                        entry.notBefore,
                        now + TimeAmount(Self.penalty(failures: entry.failures, limits: limits))
                    )
                }
            }
            if entry.failures == 0, entry.delayed == 0 {
                sources[key] = nil
            } else {
                sources[key] = entry
            }
            if sources.count > limits.maxTrackedSources { Self.forgetQuietSources(&sources, limits: limits) }
        }
    }

    /// The wait after `failures` failures: nothing while they are free, then doubling up to the maximum.
    private static func penalty(failures: Int, limits: AuthLimits) -> Duration {
        let penalised = failures - limits.freeFailures
        guard penalised > 0 else { return .zero }
        let factor = Int64(1) << Int64(min(penalised - 1, 30))
        let base = TimeAmount(limits.basePenalty).nanoseconds
        let (product, overflow) = base.multipliedReportingOverflow(by: factor)
        let maximum = TimeAmount(limits.maxPenalty).nanoseconds
        return .nanoseconds(overflow || product < 0 ? maximum : min(product, maximum))
    }

    /// Forgets sources with nothing held back: first those whose failures have expired, then the longest-quiet,
    /// down to three quarters of the table so this scan runs rarely.
    private static func forgetQuietSources(_ sources: inout [String: Source], limits: AuthLimits) {
        let now = NIODeadline.now()
        sources = sources.filter {
            $0.value.delayed > 0 || now - $0.value.lastFailure <= TimeAmount(limits.failureMemory)
        }
        let target = limits.maxTrackedSources * 3 / 4
        guard sources.count > target else { return }
        let idle = sources.filter { $0.value.delayed == 0 }.sorted { $0.value.lastFailure < $1.value.lastFailure }
        for (key, _) in idle.prefix(sources.count - target) { sources[key] = nil }
    }

    /// The throttling key of a client address (`SourceKey`: an IPv4 address, the /64 of an IPv6 one).
    static func sourceKey(_ address: SocketAddress?) -> String {
        guard let ip = address?.ipAddress else { return "other" }
        return SourceKey.of(host: ip)
    }
}
