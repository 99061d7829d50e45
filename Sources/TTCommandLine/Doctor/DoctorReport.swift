import Foundation
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

    /// - Parameter live: redraw the rows in place (standard output is a terminal) instead of printing lines.
    init(live: Bool) {
        self.live = live
        var size = winsize()
        width = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 20 ? Int(size.ws_col) : 120
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
                Console.write(text, to: STDOUT_FILENO)
            }
        } else {
            state.withLock { state in
                for (index, outcome) in outcomes.enumerated() where outcome.finished && !state.printed.contains(index) {
                    state.printed.insert(index)
                    Console.line(Self.row(outcome))
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
        var recommended: Any = NSNull()
        if let best = RouteOutcome.recommended(outcomes) {
            var object = routeObject(best)
            object["flags"] = flags(best.candidate)
            object["config"] = configEntry(best.candidate, server: server, name: connection).joined(separator: "\n")
            recommended = object
        }
        let object: [String: Any] = [
            "server": server.description,
            "routes": outcomes.map(routeObject),
            "recommended": recommended,
            "exit_code": Int(RouteOutcome.exitCode(outcomes)),
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func routeObject(_ outcome: RouteOutcome) -> [String: Any] {
        [
            "sources": outcome.candidate.sources,
            "proxy": outcome.candidate.proxyURL ?? NSNull(),
            "pac_entry": outcome.candidate.pacEntry ?? NSNull(),
            "ok": outcome.ok,
            "exit_code": Int(outcome.exitCode),
            "stage": outcome.stage,
            "message": outcome.message,
            "elapsed_ms": (outcome.elapsed.inMilliseconds * 1000).rounded() / 1000,
            "configured": outcome.candidate.isConfigured,
            "server_identity": outcome.serverIdentity ?? NSNull(),
        ]
    }
}
