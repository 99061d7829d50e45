import FoundationEssentials
import Synchronization
import TTBasics
import TTClient
import TTTransport

/// What trying one candidate route gave.
struct RouteOutcome: Sendable {
    /// The route tried.
    var candidate: RouteCandidate
    /// Whether the route reached the server and got an answer to the ping (and the login, with `-S`).
    var ok: Bool
    /// `check`'s exit code for this route (0 when it works).
    var exitCode: Int32
    /// The stage reached: the last one passed when it works, the one that failed otherwise.
    var stage: String
    /// What `check` would say: the reason of the failure, or that the server is reachable.
    var message: String
    /// How long the route took until it worked or failed.
    var elapsed: Duration
    /// The server identity (`SHA256:…`) seen on this route, when the handshake got that far.
    var serverIdentity: String?
    /// `false` while the route is still being tried (in a progress report).
    var finished: Bool

    /// How far a stage is from the start, to find the failure that got furthest.
    static func depth(of stage: String) -> Int {
        ["options", "pac", "proxy", "tunnel", "server", "tls", "handshake", "login", "ping"].firstIndex(of: stage) ?? 0
    }

    /// Which route to use: the configured one (what `check` would take) when it works, else the fastest that
    /// works; `nil` when none works.
    static func recommended(_ outcomes: [RouteOutcome]) -> RouteOutcome? {
        let working = outcomes.filter(\.ok)
        return working.first(where: \.candidate.isConfigured) ?? working.min { $0.elapsed < $1.elapsed }
    }

    /// The exit code of the doctor: 0 when any route works, else the code of the route that got furthest.
    static func exitCode(_ outcomes: [RouteOutcome]) -> Int32 {
        if outcomes.contains(where: \.ok) { return 0 }
        return furthest(outcomes)?.exitCode ?? 1
    }

    /// The failed route that got furthest (the first of those that got as far): what it says is most about
    /// what to fix.
    static func furthest(_ outcomes: [RouteOutcome]) -> RouteOutcome? {
        var furthest: RouteOutcome?
        for outcome in outcomes where !outcome.ok {
            if furthest.map({ depth(of: outcome.stage) > depth(of: $0.stage) }) ?? true { furthest = outcome }
        }
        return furthest
    }
}

/// Everything but the route that a check of one candidate needs: the server, credentials, identity policy,
/// TLS, and the proxy credentials and scheme that apply to every proxy candidate.
struct DoctorSetup: Sendable {
    /// The plan of `check` with the route left to the doctor (its route is replaced per candidate).
    var base: ConnectionPlan
    /// The CONNECT options (headers, proxy CA, logger).
    var proxyOptions: HTTPProxyOptions
    /// `--proxy-user` or the config entry's, for every proxy whose URL carries none.
    var proxyCredentials: ProxyCredentials?
    /// `--proxy-auth` or the config entry's.
    var proxyAuth: ProxyAuthScheme?
}

/// Tries every candidate route at once, each on its own thread (a check is blocking libcurl and socket work),
/// and returns within the deadline whatever the candidates do.
enum Doctor {
    /// Runs `body` on a thread of its own (a route's check blocks in `poll`); when no thread can be started, here,
    /// so that every route still reports.
    static func detach(_ body: @escaping @Sendable () -> Void) {
        do {
            try OSThread.detach(name: "tt-doctor", body)
        } catch {
            body()
        }
    }

    /// How often `progress` is called while routes run.
    static let progressInterval = Duration.milliseconds(100)

    /// Runs a `check` over each candidate and returns one outcome per candidate, in the candidates' order.
    ///
    /// Each check gets the time left until `deadline` (less a margin, so its own timeout names the stage it
    /// reached); a check still running at the deadline is reported as timed out at the stage after the last it
    /// passed, and its thread is left to end on its own timeout.
    /// - Parameter progress: called every ``progressInterval`` and once at the end with every route's state
    ///   (``RouteOutcome/finished`` is `false` for routes still running).
    static func run(
        candidates: [RouteCandidate],
        setup: DoctorSetup,
        deadline: Deadline,
        progress: (@Sendable ([RouteOutcome]) -> Void)? = nil
    ) -> [RouteOutcome] {
        let started = ContinuousClock.now
        let states = Mutex<[RouteOutcome?]>(Array(repeating: nil, count: candidates.count))
        let trackers = candidates.map { _ in CheckProgress(printLines: false) }
        let remaining = deadline.remaining ?? .seconds(10)
        // The checks time out a little before the doctor's deadline so they report their own stage.
        let margin = min(remaining / 10, .milliseconds(300))
        let candidates = candidates.map { effective($0, setup: setup) }
        for (index, candidate) in candidates.enumerated() {
            if case .unusable(let code, let stage, let message) = candidate.way {
                let outcome = RouteOutcome(
                    candidate: candidate,
                    ok: false,
                    exitCode: code,
                    stage: stage,
                    message: message,
                    elapsed: .zero,
                    serverIdentity: nil,
                    finished: true
                )
                states.withLock { $0[index] = outcome }
                continue
            }
            let plan = Self.plan(for: candidate, setup: setup, timeout: remaining - margin)
            let tracker = trackers[index]
            Self.detach {
                let check = CheckCommand.check(plan, printLines: false, started: .now, progress: tracker)
                let outcome = RouteOutcome(
                    candidate: candidate,
                    ok: check.ok,
                    exitCode: check.exitCode,
                    stage: check.ok ? (check.stages.last?.stage ?? "ping") : (check.stage ?? "ping"),
                    message: check.message,
                    elapsed: check.elapsed,
                    serverIdentity: check.serverIdentity,
                    finished: true
                )
                states.withLock { $0[index] = outcome }
            }
        }
        func snapshot(final: Bool) -> [RouteOutcome] {
            let done = states.withLock { $0 }
            return candidates.indices.map { index in
                if let outcome = done[index] { return outcome }
                let passed = trackers[index].stages.filter(\.ok).last?.stage
                let next = Self.stage(
                    after: passed,
                    candidate: candidates[index],
                    login: setup.base.configuration.credentials != nil
                )
                let elapsed = ContinuousClock.now - started
                return RouteOutcome(
                    candidate: candidates[index],
                    ok: false,
                    exitCode: 12,
                    stage: next,
                    message: final
                        ? "\(next): no answer within the deadline of \(remaining.readable)"
                            + (passed.map { " (passed: \($0))" } ?? "")
                        : "trying",
                    elapsed: elapsed,
                    serverIdentity: nil,
                    finished: final
                )
            }
        }
        // Bounded: the loop ends at the deadline at the latest.
        while !deadline.hasPassed {
            if states.withLock({ $0.allSatisfy { $0 != nil } }) { break }
            progress?(snapshot(final: false))
            let left = deadline.remaining ?? progressInterval
            OSThread.sleep(min(left, progressInterval))
        }
        let outcomes = snapshot(final: true)
        progress?(outcomes)
        return outcomes
    }

    /// The candidate with the proxy credentials and scheme of the flags or config entry applied (so the
    /// recommendation names the proxy user too).
    static func effective(_ candidate: RouteCandidate, setup: DoctorSetup) -> RouteCandidate {
        guard case .proxy(var proxy) = candidate.way else { return candidate }
        if let credentials = setup.proxyCredentials, proxy.credentials == nil { proxy.credentials = credentials }
        if let scheme = setup.proxyAuth { proxy.authScheme = scheme }
        var effective = candidate
        effective.way = .proxy(proxy)
        return effective
    }

    /// The base plan with the candidate's route (``effective(_:setup:)``) and the doctor's timeout.
    static func plan(for candidate: RouteCandidate, setup: DoctorSetup, timeout: Duration) -> ConnectionPlan {
        var plan = setup.base
        switch candidate.way {
        case .direct, .unusable:
            plan.configuration.route = .direct
            plan.routeReason = "direct connection: \(candidate.sourceText)"
        case .proxy(let proxy):
            plan.configuration.route = .proxy(proxy, setup.proxyOptions)
            plan.routeReason = "proxy \(proxy.url): from \(candidate.sourceText)"
        }
        // The row names the sources; the message stays the check's own.
        plan.origin = RouteOrigin(source: nil, offersDoctor: false)
        plan.configuration.connectTimeout = max(timeout, .milliseconds(1))
        plan.configuration.requestTimeout = max(timeout, .milliseconds(1))
        return plan
    }

    /// The stage a still-running check is in: the one after `passed`, on this candidate's path.
    static func stage(after passed: String?, candidate: RouteCandidate, login: Bool) -> String {
        var path: [String]
        if case .proxy = candidate.way { path = ["proxy", "tunnel"] } else { path = ["server"] }
        path += ["tls", "handshake"] + (login ? ["login"] : []) + ["ping"]
        guard let passed, let at = path.firstIndex(of: passed) else { return path[0] }
        let next = path.index(after: at)
        guard next < path.endIndex else { return path[at] }
        // TLS is reported only when it ran: after the tunnel comes the handshake unless TLS shows up.
        return path[next] == "tls" ? path[path.index(after: next)] : path[next]
    }
}
