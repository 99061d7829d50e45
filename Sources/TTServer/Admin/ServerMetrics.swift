public import CoreMetrics
import TTProtocol

/// The counters a ``FrameworkServer`` (and its ``AdminServer``, given them) keeps, through the swift-metrics API:
/// whoever bootstraps a backend (tt-server's admin listener serves them in the Prometheus text format) reads them;
/// without one they cost nothing.
///
/// Label values come from small fixed sets only (functions this build knows, RCs by number, a handful of
/// results), so a peer cannot grow the number of series: unknown function codes count as `other`. Because the
/// sets are fixed, every counter is made once, here: making one validates its name and labels and takes the
/// backend's registry lock, which has no place on the event loop for every request.
public struct ServerMetrics: Sendable {
    /// The functions with a series of their own, in the order of ``requests``' rows; anything else is `other`.
    private static let knownFunctions: [FunctionCode] = [.ping, .login, .logout, .echo]
    /// RCs `0...internalError` have a column each in ``requests``; the last column counts every other RC.
    private static let rcColumns = Int(ReturnCode.internalError.rawValue) + 2

    private let sessionsOpen: Meter
    private let handshakesCompleted: Counter
    private let handshakesFailed: Counter
    private let bytesReceived: Counter
    private let bytesSent: Counter
    private let inflateRejections: Counter
    private let offloadRejections: Counter
    private let bufferBudgetRejections: Counter
    private let connectionsRefused: Counter
    private let adminRefusals: Counter
    private let adminEvictions: Counter
    private let loginsAccepted: Counter
    private let loginsRejected: Counter
    private let loginsBusy: Counter
    private let loginsFailed: Counter
    /// `tt_requests_total` by function (row; the last row is `other`) and RC (column).
    private let requests: [[Counter]]
    /// `tt_server_reload_success` and `tt_server_reload_timestamp_seconds`, by file.
    private let reloads: [ReloadedFile: (success: Gauge, timestamp: Gauge)]

    /// A file `SIGHUP` reloads: the `file` label of the reload gauges.
    public enum ReloadedFile: String, Sendable, CaseIterable {
        /// The users file.
        case users
        /// The TLS certificate and key.
        case tlsCertificate = "tls_certificate"
    }

    /// Counters made by `factory` (default: the process-wide `MetricsSystem.factory`).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        sessionsOpen = Meter(label: "tt_sessions_open", dimensions: [], factory: factory)
        handshakesCompleted = Counter(
            label: "tt_handshakes_total",
            dimensions: [("result", "completed")],
            factory: factory
        )
        handshakesFailed = Counter(label: "tt_handshakes_total", dimensions: [("result", "failed")], factory: factory)
        bytesReceived = Counter(label: "tt_frame_bytes_received_total", dimensions: [], factory: factory)
        bytesSent = Counter(label: "tt_frame_bytes_sent_total", dimensions: [], factory: factory)
        inflateRejections = Counter(label: "tt_inflate_rejections_total", dimensions: [], factory: factory)
        offloadRejections = Counter(label: "tt_offload_rejections_total", dimensions: [], factory: factory)
        bufferBudgetRejections = Counter(label: "tt_buffer_budget_rejections_total", dimensions: [], factory: factory)
        connectionsRefused = Counter(label: "tt_connections_refused_total", dimensions: [], factory: factory)
        adminRefusals = Counter(
            label: "tt_admin_connections_closed_total",
            dimensions: [("reason", "address_cap")],
            factory: factory
        )
        adminEvictions = Counter(
            label: "tt_admin_connections_closed_total",
            dimensions: [("reason", "evicted")],
            factory: factory
        )
        func login(_ result: String) -> Counter {
            Counter(label: "tt_logins_total", dimensions: [("result", result)], factory: factory)
        }
        loginsAccepted = login("accepted")
        loginsRejected = login("rejected")
        loginsBusy = login("busy")
        loginsFailed = login("failed")
        let functionNames = Self.knownFunctions.map(\.description) + ["other"]
        let rcNames = (0..<Self.rcColumns - 1).map { "\($0)" } + ["other"]
        var reloads: [ReloadedFile: (success: Gauge, timestamp: Gauge)] = [:]
        for file in ReloadedFile.allCases {
            reloads[file] = (
                Gauge(label: "tt_server_reload_success", dimensions: [("file", file.rawValue)], factory: factory),
                Gauge(
                    label: "tt_server_reload_timestamp_seconds",
                    dimensions: [("file", file.rawValue)],
                    factory: factory
                )
            )
        }
        self.reloads = reloads
        requests = functionNames.map { function in
            rcNames.map { rc in
                Counter(label: "tt_requests_total", dimensions: [("function", function), ("rc", rc)], factory: factory)
            }
        }
    }

    func sessionOpened() { sessionsOpen.increment() }
    func sessionClosed() { sessionsOpen.decrement() }
    func handshake(completed: Bool) { (completed ? handshakesCompleted : handshakesFailed).increment() }
    func received(bytes: Int) { bytesReceived.increment(by: Int64(bytes)) }
    func sent(bytes: Int) { bytesSent.increment(by: Int64(bytes)) }
    func inflateRejected() { inflateRejections.increment() }
    func offloadRejected() { offloadRejections.increment() }
    func bufferBudgetRejected() { bufferBudgetRejections.increment() }
    func connectionRefused() { connectionsRefused.increment() }
    func adminConnectionRefused() { adminRefusals.increment() }
    func adminConnectionEvicted() { adminEvictions.increment() }

    /// One Login answered.
    func login(_ outcome: RequestDispatcher.LoginOutcome) {
        switch outcome {
        case .accepted: loginsAccepted.increment()
        case .rejected: loginsRejected.increment()
        case .busy: loginsBusy.increment()
        case .failed: loginsFailed.increment()
        }
    }

    /// The outcome of the latest load of `file`: 1 or 0, and when (seconds since 1970).
    public func reloaded(_ file: ReloadedFile, succeeded: Bool, at seconds: Double) {
        guard let gauges = reloads[file] else { return }
        gauges.success.record(succeeded ? 1 : 0)
        gauges.timestamp.record(seconds)
    }

    /// One request answered, by function and RC.
    func request(function: FunctionCode?, rc: ReturnCode) {
        let row = function.flatMap { Self.knownFunctions.firstIndex(of: $0) } ?? Self.knownFunctions.count
        let column = min(Int(rc.rawValue), Self.rcColumns - 1)
        requests[row][column].increment()
    }
}
