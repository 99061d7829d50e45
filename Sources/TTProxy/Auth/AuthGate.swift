import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// Limits on Basic auth password checks; see ``ProxyServerConfiguration/authLimits``.
public struct AuthLimits: Sendable {
    /// Password checks running at once, each on a thread-pool thread. Default: the number of cores.
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

    public init() {}
}

/// Runs password checks for all connections of one proxy: a bounded number at once, fairly across source
/// addresses, and ever more slowly for an address that keeps failing.
///
/// Each source address (an IPv4 address, or the /64 of an IPv6 one) has its own queue and at most one check
/// running; queues take turns. So a flood from one address occupies one thread and its own short queue (the
/// excess is answered busy), and a request from any other address waits for at most one check per busy
/// address. After ``AuthLimits/freeFailures`` failures an address's next check waits a penalty that doubles
/// with each failure, which caps guessing at about one password per ``AuthLimits/maxPenalty``.
final class AuthGate: Sendable {
    enum Verdict: Sendable { case accepted, rejected, busy }

    private struct Job {
        var user: String
        var password: String
        var promise: EventLoopPromise<Verdict>
    }

    private struct Source {
        var queue: [Job] = []
        var running = false
        var failures = 0
        var lastFailure = NIODeadline.uptimeNanoseconds(0)
        var notBefore = NIODeadline.uptimeNanoseconds(0)
        var isIdle: Bool { queue.isEmpty && !running }
    }

    private struct State: ~Copyable {
        var sources: [String: Source] = [:]
        /// Sources with a waiting check and none running, in turn order.
        var ready: [String] = []
        var running = 0
        var pending = 0
        var wakeAt: NIODeadline?
    }

    private let users: HtpasswdFile
    private let limits: AuthLimits
    private let timerLoop: any EventLoop
    private let state = Mutex(State())

    init(users: HtpasswdFile, limits: AuthLimits, timerLoop: any EventLoop) {
        self.users = users
        self.limits = limits
        self.timerLoop = timerLoop
    }

    /// Source addresses whose queue or failures are remembered now.
    var trackedSources: Int { state.withLock { $0.sources.count } }

    /// Checks `password` for `user` on behalf of a client at `source`; the verdict arrives on `eventLoop`.
    func check(
        user: String,
        password: String,
        source: String,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<
        Verdict
    > {
        let promise = eventLoop.makePromise(of: Verdict.self)
        let job = Job(user: user, password: password, promise: promise)
        let limits = self.limits
        let admitted = state.withLock { state -> Bool in
            guard state.pending < limits.maxPending else { return false }
            var entry = state.sources[source] ?? Source()
            guard entry.queue.count < limits.maxPendingPerSource else { return false }
            entry.queue.append(job)
            if entry.queue.count == 1, !entry.running { state.ready.append(source) }
            state.sources[source] = entry
            state.pending += 1
            return true
        }
        if admitted {
            pump()
        } else {
            promise.succeed(.busy)
        }
        return promise.futureResult
    }

    /// Starts every check that may start now, and arms a timer for the earliest penalised source.
    private func pump() {
        let limits = self.limits
        let (jobs, wake) = state.withLock { state -> ([(String, Job)], NIODeadline?) in
            let now = NIODeadline.now()
            var jobs: [(String, Job)] = []
            var earliest: NIODeadline?
            var index = 0
            while index < state.ready.count {
                let key = state.ready[index]
                let notBefore = state.sources[key]?.notBefore ?? now
                if notBefore > now {
                    earliest = min(earliest ?? notBefore, notBefore)
                    index += 1
                    continue
                }
                guard state.running < limits.maxConcurrentChecks else { break }
                state.ready.remove(at: index)
                let job = state.sources[key]!.queue.removeFirst()
                state.sources[key]!.running = true
                state.running += 1
                state.pending -= 1
                jobs.append((key, job))
            }
            guard let earliest, state.wakeAt.map({ earliest < $0 }) ?? true else { return (jobs, nil) }
            state.wakeAt = earliest
            return (jobs, earliest)
        }
        if let wake {
            timerLoop.scheduleTask(deadline: wake) {
                self.state.withLock { state in
                    if state.wakeAt == wake { state.wakeAt = nil }
                }
                self.pump()
            }
        }
        let users = self.users
        for (key, job) in jobs {
            NIOThreadPool.singleton.runIfActive(eventLoop: job.promise.futureResult.eventLoop) {
                users.verify(user: job.user, password: job.password)
            }.whenComplete { result in
                let accepted = (try? result.get()) == true
                self.finished(source: key, accepted: accepted)
                job.promise.succeed(accepted ? .accepted : .rejected)
            }
        }
    }

    private func finished(source key: String, accepted: Bool) {
        let limits = self.limits
        state.withLock { state in
            state.running -= 1
            guard var entry = state.sources[key] else { return }
            entry.running = false
            let now = NIODeadline.now()
            if now - entry.lastFailure > TimeAmount(limits.failureMemory) { entry.failures = 0 }
            if !accepted {
                entry.failures += 1
                entry.lastFailure = now
                let penalised = entry.failures - limits.freeFailures
                if penalised > 0 {
                    let factor = Int64(1) << Int64(min(penalised - 1, 30))
                    let base = TimeAmount(limits.basePenalty).nanoseconds
                    let maxPenalty = TimeAmount(limits.maxPenalty)
                    let penalty = TimeAmount.nanoseconds(
                        min(base.multipliedReportingOverflow(by: factor).partialValue, maxPenalty.nanoseconds)
                    )
                    entry.notBefore = now + (penalty < .zero ? maxPenalty : penalty)
                }
            }
            if !entry.queue.isEmpty { state.ready.append(key) }
            if entry.isIdle, entry.failures == 0 {
                state.sources[key] = nil
            } else {
                state.sources[key] = entry
            }
            if state.sources.count > limits.maxTrackedSources { Self.forgetQuietSources(&state, limits: limits) }
        }
        pump()
    }

    /// Forgets idle sources: first those whose failures have expired, then the longest-quiet, down to three
    /// quarters of the table so this scan runs rarely.
    private static func forgetQuietSources(_ state: inout State, limits: AuthLimits) {
        let now = NIODeadline.now()
        state.sources = state.sources.filter {
            !$0.value.isIdle || now - $0.value.lastFailure <= TimeAmount(limits.failureMemory)
        }
        let target = limits.maxTrackedSources * 3 / 4
        guard state.sources.count > target else { return }
        let idle = state.sources.filter(\.value.isIdle).sorted { $0.value.lastFailure < $1.value.lastFailure }
        for (key, _) in idle.prefix(state.sources.count - target) { state.sources[key] = nil }
    }

    /// The throttling key of a client address: the IPv4 address, or the /64 prefix of an IPv6 address (one
    /// host usually owns a whole /64); IPv4-mapped IPv6 addresses count as IPv4.
    static func sourceKey(_ address: SocketAddress?) -> String {
        switch address {
        case .v4:
            return address?.ipAddress ?? "unknown"
        case .v6:
            var raw = in6_addr()
            guard let ip = address?.ipAddress, inet_pton(AF_INET6, ip, &raw) == 1 else { return "unknown" }
            let bytes = withUnsafeBytes(of: raw) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
                return bytes[12...].map(String.init).joined(separator: ".")
            }
            return bytes[0..<8].map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
        default:
            return "other"
        }
    }
}
