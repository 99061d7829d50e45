public import CoreMetrics
import TTProtocol

/// The counters a ``FrameworkServer`` keeps, through the swift-metrics API: whoever bootstraps a backend
/// (tt-server's admin listener serves them in the Prometheus text format) reads them; without one they cost
/// nothing.
///
/// Label values come from small fixed sets only (functions this build knows, RCs by number, a handful of
/// results), so a peer cannot grow the number of series: unknown function codes count as `other`.
public struct ServerMetrics: Sendable {
    private let factory: any MetricsFactory
    private let sessionsOpen: Meter
    private let handshakesCompleted: Counter
    private let handshakesFailed: Counter
    private let bytesReceived: Counter
    private let bytesSent: Counter
    private let inflateRejections: Counter
    private let offloadRejections: Counter
    private let bufferBudgetRejections: Counter
    private let connectionsRefused: Counter

    /// Counters made by `factory` (default: the process-wide `MetricsSystem.factory`).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
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

    /// One Login answered: `accepted`, `rejected` or `busy`.
    func login(result: String) {
        Counter(label: "tt_logins_total", dimensions: [("result", result)], factory: factory).increment()
    }

    /// One request answered, by function and RC.
    func request(function: FunctionCode?, rc: ReturnCode) {
        let known: [FunctionCode] = [.ping, .login, .logout, .echo]
        let name = function.flatMap { known.contains($0) ? $0.description : nil } ?? "other"
        let code = rc.rawValue <= ReturnCode.internalError.rawValue ? "\(rc.rawValue)" : "other"
        Counter(label: "tt_requests_total", dimensions: [("function", name), ("rc", code)], factory: factory)
            .increment()
    }
}
