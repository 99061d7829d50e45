import NIOCore
import TTServer
import TTTestSupport
import Testing

@Suite("Admin listener bounds")
struct AdminLimitsTests {
    private func withAdmin<T>(
        limits: AdminServer.Limits,
        _ body: (Int) async throws -> T
    ) async throws -> T {
        let admin = try await AdminServer.start(
            address: ListenAddress(host: "127.0.0.1", port: 0),
            limits: limits,
            health: { true },
            metrics: { "tt_example 1\n" }
        )
        do {
            let result = try await body(try #require(admin.localAddress?.port))
            await admin.close()
            return result
        } catch {
            await admin.close()
            throw error
        }
    }

    @Test("/healthz and /metrics answer, and a keep-alive connection is closed after its one answer")
    func answersThenCloses() async throws {
        try await withAdmin(limits: AdminServer.Limits()) { port in
            let health = try await httpGet(port: port, path: "/healthz")
            #expect(health.status == 200)
            #expect(health.body == "serving\n")
            let metrics = try await httpGet(port: port, path: "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.body == "tt_example 1\n")
            let raw = try await RawConnection.connect(host: "127.0.0.1", port: port)
            try await raw.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(String(decoding: try await raw.receive(exactly: 12), as: UTF8.self) == "HTTP/1.1 200")
            try await raw.expectClosed(timeout: .seconds(10))
        }
    }

    @Test("A client trickling its head is closed after the head timeout")
    func headTimeout() async throws {
        try await withAdmin(limits: AdminServer.Limits(headTimeout: .milliseconds(500))) { port in
            // The timeout runs from the accept, which follows the start of the connect.
            let started = ContinuousClock.now
            let raw = try await RawConnection.connect(host: "127.0.0.1", port: port)
            // On a loaded machine the server may have closed before a send runs: the sends may fail, the close
            // and its timing are what is asserted.
            try? await raw.send(Array("GET /healthz HTTP/1.1\r\n".utf8))
            try await Task.sleep(for: .milliseconds(200))
            try? await raw.send(Array("Host: x\r\n".utf8))
            try await raw.expectClosed(timeout: .seconds(15))
            #expect(ContinuousClock.now - started >= .milliseconds(490))
            // The listener still answers others.
            #expect(try await httpGet(port: port, path: "/healthz").status == 200)
        }
    }

    @Test("An endless header line is cut at the head size limit with 431")
    func headSizeLimit() async throws {
        try await withAdmin(limits: AdminServer.Limits(maxHeadBytes: 1024)) { port in
            let raw = try await RawConnection.connect(host: "127.0.0.1", port: port)
            try await raw.send(Array("GET /healthz HTTP/1.1\r\nX-Long: ".utf8))
            let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 4096)
            // Far past the limit; the server cuts it off long before all of it is sent.
            for _ in 0..<256 {
                do { try await raw.send(chunk) } catch { break }
            }
            #expect(String(decoding: try await raw.receive(exactly: 12), as: UTF8.self) == "HTTP/1.1 431")
            try await raw.expectClosed(timeout: .seconds(10))
        }
    }

    @Test("The 65th connection is closed at once while 64 are held; they still get answers")
    func connectionCap() async throws {
        try await withAdmin(limits: AdminServer.Limits(headTimeout: .seconds(120))) { port in
            var held: [RawConnection] = []
            defer { for connection in held { connection.channel.close(promise: nil) } }
            for _ in 0..<64 { held.append(try await RawConnection.connect(host: "127.0.0.1", port: port)) }
            let extra = try await RawConnection.connect(host: "127.0.0.1", port: port)
            try await extra.expectClosed(timeout: .seconds(10))
            // A held connection is still served.
            try await held[0].send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(String(decoding: try await held[0].receive(exactly: 12), as: UTF8.self) == "HTTP/1.1 200")
            try await held[0].expectClosed()
            // Its slot is free again once it is closed.
            let deadline = ContinuousClock.now + .seconds(20)
            var status = 0
            repeat {
                status = (try? await httpGet(port: port, path: "/healthz", timeout: .seconds(2)).status) ?? 0
                if status != 200 { try await Task.sleep(for: .milliseconds(50)) }
            } while status != 200 && ContinuousClock.now < deadline
            #expect(status == 200)
        }
    }
}
