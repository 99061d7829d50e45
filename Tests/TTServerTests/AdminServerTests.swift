import Foundation
import NIOCore
import Prometheus
import TTProtocol
import TTServer
import TTTestSupport
import Testing

/// The value of the sample `series` (name with its labels, as the Prometheus text format writes them).
func metricValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}

@Suite("Admin listener, metrics and drain")
struct AdminServerTests {
    /// A server counting into its own registry, and an admin listener serving it.
    private func withAdmin<T>(
        users: [String: String] = ["alice": "secret"],
        configure: @Sendable (inout ServerConfiguration) -> Void = { _ in },
        _ body: (TestServer, Int, PrometheusCollectorRegistry) async throws -> T
    ) async throws -> T {
        let registry = PrometheusCollectorRegistry()
        let server = try await TestServer.start(
            users: users,
            metrics: ServerMetrics(factory: PrometheusMetricsFactory(registry: registry)),
            configure: configure
        )
        let inner = server.server
        let admin = try await AdminServer.start(
            address: ListenAddress(host: "127.0.0.1", port: 0),
            health: { inner.isServing },
            metrics: { registry.emitToString() }
        )
        do {
            let result = try await body(server, try #require(admin.localAddress?.port), registry)
            await admin.close()
            await server.stop()
            return result
        } catch {
            await admin.close()
            await server.stop()
            throw error
        }
    }

    @Test("GET /metrics counts sessions, handshakes, logins, requests by function and RC, and bytes")
    func metrics() async throws {
        try await withAdmin { server, adminPort, _ in
            let client = try await TestClient.connect(to: server)
            #expect(try await client.ping().rc == .requestOK)
            #expect(try await client.echo([1, 2, 3]).rc == .requestOK)
            #expect(try await client.login(user: "alice", password: "wrong").rc == .loginRejected)
            #expect(try await client.login(user: "alice", password: "secret").rc == .requestOK)
            #expect(try await client.send(RequestPacket(function: FunctionCode(rawValue: 999))).rc == .unknownFunction)
            let answer = try await httpGet(port: adminPort, path: "/metrics")
            #expect(answer.status == 200)
            let text = answer.body
            #expect(text.contains("# TYPE tt_requests_total counter"))
            #expect(metricValue(text, #"tt_requests_total{function="Ping",rc="0"}"#) == 1)
            #expect(metricValue(text, #"tt_requests_total{function="Echo",rc="0"}"#) == 1)
            #expect(metricValue(text, #"tt_requests_total{function="Login",rc="2"}"#) == 1)
            #expect(metricValue(text, #"tt_requests_total{function="Login",rc="0"}"#) == 1)
            // An unknown function code is `other`: peers cannot add series.
            #expect(metricValue(text, #"tt_requests_total{function="other",rc="3"}"#) == 1)
            #expect(metricValue(text, #"tt_logins_total{result="rejected"}"#) == 1)
            #expect(metricValue(text, #"tt_logins_total{result="accepted"}"#) == 1)
            #expect(metricValue(text, #"tt_handshakes_total{result="completed"}"#) == 1)
            #expect(metricValue(text, "tt_sessions_open") == 1)
            #expect((metricValue(text, "tt_frame_bytes_received_total") ?? 0) > 0)
            #expect((metricValue(text, "tt_frame_bytes_sent_total") ?? 0) > 0)
            #expect(!text.contains("secret"))

            await client.close()
            // A connection that never completes the handshake counts as a failed one once it is gone.
            let raw = try await RawConnection.connect(host: server.host, port: server.port)
            await raw.close()
            let deadline = ContinuousClock.now + .seconds(20)
            var after = ""
            repeat {
                try await Task.sleep(for: .milliseconds(50))
                after = try await httpGet(port: adminPort, path: "/metrics").body
            } while (metricValue(after, "tt_sessions_open") != 0
                || metricValue(after, #"tt_handshakes_total{result="failed"}"#) != 1) && ContinuousClock.now < deadline
            #expect(metricValue(after, "tt_sessions_open") == 0)
            #expect(metricValue(after, #"tt_handshakes_total{result="failed"}"#) == 1)
        }
    }

    @Test("GET /healthz is 200 while serving; other paths are 404")
    func health() async throws {
        try await withAdmin { _, adminPort, _ in
            let healthy = try await httpGet(port: adminPort, path: "/healthz")
            #expect(healthy.status == 200)
            #expect(healthy.body == "serving\n")
            #expect(try await httpGet(port: adminPort, path: "/nope").status == 404)
        }
    }

    @Test("Draining: health turns 503, the request in flight is answered, idle sessions close, accepting stops")
    func drain() async throws {
        try await withAdmin(configure: {
            // The answer comes 1.5 s late; the grace period is far longer, so the drain ends by the answer.
            $0.failedLoginDelay = .milliseconds(1500)
            $0.shutdownGracePeriod = .seconds(60)
        }) { server, adminPort, _ in
            let idle = try await TestClient.connect(to: server)
            let busy = try await TestClient.connect(to: server)
            let payload = try LoginPayload(user: "alice", password: "wrong").serialize()
            try await busy.connection.send(
                busy.codec.encode(.request(RequestPacket(function: .login, payload: payload)))
            )
            try await Task.sleep(for: .milliseconds(150))
            async let stopped: Void = server.server.shutdown()
            let deadline = ContinuousClock.now + .seconds(20)
            var status = 0
            repeat {
                status = try await httpGet(port: adminPort, path: "/healthz").status
            } while status != 503 && ContinuousClock.now < deadline
            #expect(status == 503)
            try await idle.connection.expectClosed()
            #expect(try await busy.receiveResponse().rc == .loginRejected)
            try await busy.connection.expectClosed()
            await stopped
            await #expect(throws: (any Error).self) {
                try await RawConnection.connect(host: server.host, port: server.port)
            }
            #expect(try await httpGet(port: adminPort, path: "/healthz").status == 503)
        }
    }

    @Test("A drain delay: health turns 503 at once, yet new sessions are served until the delay is over")
    func drainDelay() async throws {
        // Long enough that a loaded machine still connects and pings within it.
        let delay = Duration.seconds(8)
        try await withAdmin(configure: { $0.drainDelay = delay }) { server, adminPort, _ in
            let started = ContinuousClock.now
            async let stopped: Void = server.server.shutdown()
            let deadline = ContinuousClock.now + .seconds(20)
            var status = 0
            repeat {
                status = try await httpGet(port: adminPort, path: "/healthz").status
            } while status != 503 && ContinuousClock.now < deadline
            #expect(status == 503)
            #expect(!server.server.isServing)
            // What a balancer sends before its next check still gets served.
            // Connected within the delay (timed before the connect: a test thread that wakes late must not count).
            let connecting = ContinuousClock.now
            let late = try await TestClient.connect(to: server)
            #expect(try await late.ping().rc == .requestOK)
            #expect(connecting - started < delay)
            await stopped
            #expect(ContinuousClock.now - started >= delay)
            try await late.connection.expectClosed()
            await #expect(throws: (any Error).self) {
                try await RawConnection.connect(host: server.host, port: server.port)
            }
        }
    }

    @Test("Replacing the users keeps every session: a logged-in user stays in, a new one can log in")
    func reloadUsers() async throws {
        try await withAdmin(users: ["alice": "secret", "carol": "c"]) { server, _, _ in
            let alice = try await TestClient.connectLoggedIn(to: server, user: "alice", password: "secret")
            let path = server.directory.appendingPathComponent("users-2").path
            try UserDirectory.addUser("bob", password: "builder", toFileAt: path, iterations: 1_000)
            try UserDirectory.addUser("carol", password: "new", toFileAt: path, iterations: 1_000)
            let changes = server.server.users.replace(with: try UserDirectory.load(path: path))
            #expect(changes == UserDirectory.Changes(users: 2, added: 1, removed: 1, changed: 1))
            #expect(!changes.description.contains("pbkdf2"))
            #expect(try await alice.ping().rc == .requestOK)
            #expect(try await alice.logout().rc == .requestOK)
            let other = try await TestClient.connect(to: server)
            #expect(try await other.login(user: "bob", password: "builder").rc == .requestOK)
            await other.close()
            let third = try await TestClient.connect(to: server)
            #expect(try await third.login(user: "alice", password: "secret").rc == .loginRejected)
            await third.close()
            await alice.close()
        }
    }
}
