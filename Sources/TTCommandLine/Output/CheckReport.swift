import Foundation
import Synchronization
import TTBasics
import TTClient
import TTCommandSupport
import TTTransport

/// The stages of one `check` as they complete, printed at once as lines (or kept for the JSON object).
///
/// The client's observer runs on the thread that drives the client, but is typed `@Sendable`, so the state
/// sits behind a mutex.
final class CheckProgress: Sendable {
    private let lines = Mutex<[StageLine]>([])
    private let started: ContinuousClock.Instant
    private let printLines: Bool

    init(printLines: Bool) {
        self.printLines = printLines
        started = .now
    }

    /// Records a completed (or failed) stage. Without a `duration` (a failure), the stage is charged the time
    /// since the check began that the completed stages do not account for: the client reports stages after the
    /// fact (the proxy and the CONNECT both finish inside one libcurl call), so wall time between two reports
    /// says nothing.
    func record(_ stage: String, ok: Bool, duration: Duration? = nil, detail: String) {
        let line = lines.withLock { lines in
            let accounted = lines.reduce(Duration.zero) { $0 + $1.duration }
            let spent = duration ?? max(.zero, (ContinuousClock.now - started) - accounted)
            let line = StageLine(stage: stage, ok: ok, duration: spent, detail: detail)
            lines.append(line)
            return line
        }
        if printLines { Console.line(line.text) }
    }

    var stages: [StageLine] { lines.withLock { $0 } }
}

/// The outcome of `check`, as the single JSON object `--json` prints.
struct CheckOutcome {
    var ok: Bool
    /// The failed stage, `nil` on success.
    var stage: String?
    var exitCode: Int32
    var message: String
    var proxyStatus: Int?
    var elapsed: Duration
    var stages: [StageLine]
    var serverIdentity: String?
    var server: String
    var proxy: String?
    /// "PAC entry n of m from LOCATION" when a PAC chose the route.
    var pacEntry: String?
    var route: String
    /// The TLS session with the server, when there was one.
    var tls: TLSSessionReport? = nil

    /// Said after the success line: a proxy intercepts TLS (``TLSSessionReport/interceptionSuspected``).
    var note: String? {
        guard ok, let tls, tls.interceptionSuspected, let server = try? Endpoint(parsing: server, defaultPort: nil)
        else { return nil }
        return FrameworkClient.interceptionNote(tls, server: server)
    }

    /// One line of JSON with sorted keys; `null` for what is unknown.
    var json: String {
        func value(_ optional: (any Sendable)?) -> Any { optional ?? NSNull() }
        var tlsObject: Any = NSNull()
        if let tls {
            tlsObject =
                [
                    "version": tls.version, "cipher": tls.cipher, "sni": value(tls.serverName),
                    "subject": value(tls.subject), "issuer": value(tls.issuer),
                    "self_signed": tls.selfIssued, "chain_verified": tls.chainVerified,
                    "interception_suspected": tls.interceptionSuspected,
                    "handshake_ms": Self.rounded(tls.handshakeTime.inMilliseconds),
                ] as [String: Any]
        }
        let object: [String: Any] = [
            "ok": ok,
            "stage": value(stage),
            "exit_code": Int(exitCode),
            "message": message,
            "proxy_status": value(proxyStatus),
            "elapsed_ms": Self.rounded(elapsed.inMilliseconds),
            "stages": stages.map { line -> [String: Any] in
                [
                    "stage": line.stage, "ok": line.ok, "detail": line.detail,
                    "elapsed_ms": Self.rounded(line.duration.inMilliseconds),
                ]
            },
            "server_identity": value(serverIdentity),
            "server": server,
            "proxy": value(proxy),
            "pac_entry": value(pacEntry),
            "route": route,
            "tls": tlsObject,
            "note": value(note),
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func rounded(_ value: Double) -> Double {
        (value * 1000).rounded() / 1000
    }
}
