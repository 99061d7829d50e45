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
struct CheckOutcome: Encodable {
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
    var json: String { JSONLine.encode(self) }

    private enum Key: String, CodingKey {
        case ok, stage, message, stages, server, proxy, route, tls, note
        case exitCode = "exit_code"
        case proxyStatus = "proxy_status"
        case elapsed = "elapsed_ms"
        case serverIdentity = "server_identity"
        case pacEntry = "pac_entry"
    }

    private struct Stage: Encodable {
        var stage: String
        var ok: Bool
        var detail: String
        var elapsed: Double

        private enum CodingKeys: String, CodingKey {
            case stage, ok, detail
            case elapsed = "elapsed_ms"
        }
    }

    private struct TLS: Encodable {
        var report: TLSSessionReport

        private enum Key: String, CodingKey {
            case version, cipher, sni, subject, issuer
            case selfSigned = "self_signed"
            case chainVerified = "chain_verified"
            case interceptionSuspected = "interception_suspected"
            case handshake = "handshake_ms"
        }

        func encode(to encoder: any Encoder) throws {
            var object = encoder.container(keyedBy: Key.self)
            try object.encode(report.version, forKey: .version)
            try object.encode(report.cipher, forKey: .cipher)
            try object.encode(report.serverName, forKey: .sni)
            try object.encode(report.subject, forKey: .subject)
            try object.encode(report.issuer, forKey: .issuer)
            try object.encode(report.selfIssued, forKey: .selfSigned)
            try object.encode(report.chainVerified, forKey: .chainVerified)
            try object.encode(report.interceptionSuspected, forKey: .interceptionSuspected)
            try object.encode(JSONLine.milliseconds(report.handshakeTime), forKey: .handshake)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var object = encoder.container(keyedBy: Key.self)
        // Optionals are encoded as such, so what is unknown reads `null` rather than a missing key.
        try object.encode(ok, forKey: .ok)
        try object.encode(stage, forKey: .stage)
        try object.encode(Int(exitCode), forKey: .exitCode)
        try object.encode(message, forKey: .message)
        try object.encode(proxyStatus, forKey: .proxyStatus)
        try object.encode(JSONLine.milliseconds(elapsed), forKey: .elapsed)
        let stages = stages.map {
            Stage(stage: $0.stage, ok: $0.ok, detail: $0.detail, elapsed: JSONLine.milliseconds($0.duration))
        }
        try object.encode(stages, forKey: .stages)
        try object.encode(serverIdentity, forKey: .serverIdentity)
        try object.encode(server, forKey: .server)
        try object.encode(proxy, forKey: .proxy)
        try object.encode(pacEntry, forKey: .pacEntry)
        try object.encode(route, forKey: .route)
        try object.encode(tls.map(TLS.init(report:)), forKey: .tls)
        try object.encode(note, forKey: .note)
    }
}
