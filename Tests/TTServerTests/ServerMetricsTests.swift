import CoreMetrics
import Prometheus
import Synchronization
import TTProtocol
import TTServer
import TTTestSupport
import Testing

/// A Prometheus factory that counts the counters made through it.
private final class CountingFactory: MetricsFactory {
    private let inner: PrometheusMetricsFactory
    let countersMade = Atomic<Int>(0)

    init(registry: PrometheusCollectorRegistry) {
        inner = PrometheusMetricsFactory(registry: registry)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        countersMade.add(1, ordering: .relaxed)
        return inner.makeCounter(label: label, dimensions: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        inner.makeFloatingPointCounter(label: label, dimensions: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        inner.makeMeter(label: label, dimensions: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        inner.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        inner.makeTimer(label: label, dimensions: dimensions)
    }

    func destroyCounter(_ handler: any CounterHandler) { inner.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        inner.destroyFloatingPointCounter(handler)
    }
    func destroyMeter(_ handler: any MeterHandler) { inner.destroyMeter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { inner.destroyRecorder(handler) }
    func destroyTimer(_ handler: any TimerHandler) { inner.destroyTimer(handler) }
}

@Suite("Server metrics off the hot path")
struct ServerMetricsTests {
    @Test("Requests and logins update counters made once, when the metrics are made, and count right")
    func countersMadeOnce() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = CountingFactory(registry: registry)
        let metrics = ServerMetrics(factory: factory)
        let made = factory.countersMade.load(ordering: .relaxed)
        #expect(made > 0)
        let server = try await TestServer.start(users: ["alice": "secret"], metrics: metrics)
        do {
            let client = try await TestClient.connect(to: server)
            for _ in 0..<20 { #expect(try await client.ping().rc == .requestOK) }
            #expect(try await client.login(user: "alice", password: "secret").rc == .requestOK)
            #expect(try await client.send(RequestPacket(function: FunctionCode(rawValue: 999))).rc == .unknownFunction)
            #expect(factory.countersMade.load(ordering: .relaxed) == made)
            let text = registry.emitToString()
            #expect(metricValue(text, #"tt_requests_total{function="Ping",rc="0"}"#) == 20)
            #expect(metricValue(text, #"tt_requests_total{function="Login",rc="0"}"#) == 1)
            #expect(metricValue(text, #"tt_requests_total{function="other",rc="3"}"#) == 1)
            #expect(metricValue(text, #"tt_logins_total{result="accepted"}"#) == 1)
            #expect(metricValue(text, #"tt_logins_total{result="busy"}"#) == 0)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
