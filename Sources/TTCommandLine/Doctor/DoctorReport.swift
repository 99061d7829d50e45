import FoundationEssentials
import Glibc
import Synchronization
import TTBasics
import TTCommandSupport
import TTTransport

/// The doctor's output: one row per route (redrawn live on a terminal, printed as each route ends otherwise),
/// the recommendation with the flags and config entry that select it, or the single JSON object.
final class DoctorReport: Sendable {
    private struct State {
        var drawnLines = 0
        var printed: Set<Int> = []
    }

    private let state = Mutex(State())
    private let live: Bool
    private let width: Int
    private let descriptor: Int32

    /// - Parameters:
    ///   - live: redraw the rows in place (the output is a terminal) instead of printing lines.
    ///   - descriptor: where the rows go: standard output for `doctor`, the terminal for `setup`.
    init(live: Bool, descriptor: Int32 = STDOUT_FILENO) {
        self.live = live
        self.descriptor = descriptor
        var size = winsize()
        width = ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 20 ? Int(size.ws_col) : 120
    }

    /// Whether standard output is a terminal.
    static var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    /// Shows the routes' current state.
    func show(_ outcomes: [RouteOutcome]) {
        if live {
            state.withLock { state in
                var text = state.drawnLines > 0 ? "\u{1B}[\(state.drawnLines)A" : ""
                for outcome in outcomes {
                    // Cut to the terminal's width: a wrapped line would break the redraw.
                    text += "\u{1B}[2K" + String(Self.row(outcome).prefix(width - 1)) + "\n"
                }
                state.drawnLines = outcomes.count
                Console.write(text, to: descriptor)
            }
        } else {
            state.withLock { state in
                for (index, outcome) in outcomes.enumerated() where outcome.finished && !state.printed.contains(index) {
                    state.printed.insert(index)
                    Console.write(Self.row(outcome) + "\n", to: descriptor)
                }
            }
        }
    }

    /// One row: ✓/✗ (… while running), the proxy or "direct", the stage and time, the reason, the sources.
    static func row(_ outcome: RouteOutcome) -> String {
        let mark = !outcome.finished ? "…" : outcome.ok ? "✓" : "✗"
        let reason = outcome.ok || !outcome.finished ? outcome.message : "exit \(outcome.exitCode): \(outcome.message)"
        return "\(mark) \(outcome.candidate.routeText)  \(outcome.stage) \(outcome.elapsed.readable)  \(reason)"
            + "  [from \(outcome.candidate.sourceText)]"
    }

    /// The lines after the rows: the recommended route with its flags and config entry, or that none works.
    static func recommendation(_ outcomes: [RouteOutcome], server: Endpoint, connection: String?) -> [String] {
        guard let best = RouteOutcome.recommended(outcomes) else {
            return ["no route works: exit \(RouteOutcome.exitCode(outcomes)) (the route that got furthest)"]
        }
        let why = best.candidate.isConfigured ? "the configured route, and it works" : "the fastest that works"
        return [
            "recommended: \(best.candidate.routeText) (\(why); \(best.elapsed.readable); from \(best.candidate.sourceText))",
            "  flags:  tt-connect \(flags(best.candidate)) \(server)",
            "  config entry:",
        ] + configEntry(best.candidate, server: server, name: connection).map { "    " + $0 }
    }

    /// The flags that select `candidate` for `check`, `ping`, `pipe` and `forward`.
    static func flags(_ candidate: RouteCandidate) -> String {
        guard case .proxy(let proxy) = candidate.way else { return "--no-proxy" }
        var flags = "--proxy \(proxy.url)"
        if let user = proxy.credentials?.user, !user.isEmpty { flags += " --proxy-user \(user)" }
        if proxy.authScheme != .any { flags += " --proxy-auth \(proxy.authScheme)" }
        return flags
    }

    /// The `[connection NAME]` section that selects `candidate` (never a password: a user only).
    static func configEntry(_ candidate: RouteCandidate, server: Endpoint, name: String?) -> [String] {
        var lines = [
            "[connection \(name ?? Self.entryName(server.host))]", "server = \(server.host)", "port = \(server.port)",
        ]
        if case .proxy(let proxy) = candidate.way {
            lines.append("proxy = \(proxy.url)")
            if let user = proxy.credentials?.user, !user.isEmpty { lines.append("proxy-user = \(user)") }
            if proxy.authScheme != .any { lines.append("proxy-auth = \(proxy.authScheme)") }
        }
        return lines
    }

    /// A connection name from a host name: its letters, digits, `-` and `.`.
    private static func entryName(_ host: String) -> String {
        let name = String(host.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." })
        return name.isEmpty ? "server" : name
    }

    /// The JSON object `--json` prints.
    static func json(_ outcomes: [RouteOutcome], server: Endpoint, connection: String?) -> String {
        var recommended: Route?
        if let best = RouteOutcome.recommended(outcomes) {
            recommended = Route(best)
            recommended?.flags = flags(best.candidate)
            recommended?.config = configEntry(best.candidate, server: server, name: connection).joined(separator: "\n")
        }
        return JSONLine.encode(
            Report(
                server: server.description,
                routes: outcomes.map(Route.init),
                recommended: recommended,
                exitCode: Int(RouteOutcome.exitCode(outcomes))
            )
        )
    }

    /// The report's fields; what is unknown is `null`.
    private struct Report: Encodable {
        var server: String
        var routes: [Route]
        var recommended: Route?
        var exitCode: Int

        private enum CodingKeys: String, CodingKey {
            case server, routes, recommended
            case exitCode = "exit_code"
        }

        func encode(to encoder: any Encoder) throws {
            var object = encoder.container(keyedBy: CodingKeys.self)
            try object.encode(server, forKey: .server)
            try object.encode(routes, forKey: .routes)
            try object.encode(recommended, forKey: .recommended)
            try object.encode(exitCode, forKey: .exitCode)
        }
    }

    /// One route; the recommended one also carries the flags and the config entry that select it.
    private struct Route: Encodable {
        var sources: [String]
        var proxy: String?
        var pacEntry: String?
        var ok: Bool
        var exitCode: Int
        var stage: String
        var message: String
        var elapsed: Double
        var configured: Bool
        var serverIdentity: String?
        var flags: String?
        var config: String?

        init(_ outcome: RouteOutcome) {
            sources = outcome.candidate.sources
            proxy = outcome.candidate.proxyURL
            pacEntry = outcome.candidate.pacEntry
            ok = outcome.ok
            exitCode = Int(outcome.exitCode)
            stage = outcome.stage
            message = outcome.message
            elapsed = JSONLine.milliseconds(outcome.elapsed)
            configured = outcome.candidate.isConfigured
            serverIdentity = outcome.serverIdentity
        }

        private enum CodingKeys: String, CodingKey {
            case sources, proxy, ok, stage, message, configured, flags, config
            case pacEntry = "pac_entry"
            case exitCode = "exit_code"
            case elapsed = "elapsed_ms"
            case serverIdentity = "server_identity"
        }

        func encode(to encoder: any Encoder) throws {
            var object = encoder.container(keyedBy: CodingKeys.self)
            try object.encode(sources, forKey: .sources)
            // Optionals as such: `null`, as before; flags and config only on the recommended route.
            try object.encode(proxy, forKey: .proxy)
            try object.encode(pacEntry, forKey: .pacEntry)
            try object.encode(ok, forKey: .ok)
            try object.encode(exitCode, forKey: .exitCode)
            try object.encode(stage, forKey: .stage)
            try object.encode(message, forKey: .message)
            try object.encode(elapsed, forKey: .elapsed)
            try object.encode(configured, forKey: .configured)
            try object.encode(serverIdentity, forKey: .serverIdentity)
            try object.encodeIfPresent(flags, forKey: .flags)
            try object.encodeIfPresent(config, forKey: .config)
        }
    }
}
