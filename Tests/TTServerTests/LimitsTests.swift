import Foundation
import Logging
import NIOCore
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    @Suite("Limits and timeouts")
    struct LimitsTests {
        @Test("A connection without a complete hello is closed at the handshake deadline")
        func handshakeDeadline() async throws {
            let logs = LogCapture()
            try await withTestServer(limits: ProtocolLimits(handshakeTimeout: .milliseconds(1500)), logs: logs) {
                server in
                let started = ContinuousClock.now
                let connection = try await RawConnection.connect(host: server.host, port: server.port)
                try await connection.send(Array(ClientHandshake().hello.prefix(10)))
                try await connection.expectClosed(timeout: .seconds(20))
                #expect(ContinuousClock.now - started >= .milliseconds(1400))
                #expect(await logs.waitForCloseReason(containing: "no complete handshake within 1.5 s") != nil)
                let client = try await TestClient.connect(to: server)
                #expect(try await client.ping().rc == .requestOK)
                await client.close()
            }
        }

        @Test("A TLS handshake that never completes is closed at the handshake deadline, without the close-flush wait")
        func partialTLSHandshake() async throws {
            let tls = try selfSignedTLSContext()
            try await withTestServer(
                limits: ProtocolLimits(handshakeTimeout: .milliseconds(1000)),
                // Far longer than the test waits: a close that still waited to flush would time the test out.
                configure: {
                    $0.tls = tls
                    $0.closeFlushTimeout = .seconds(60)
                }
            ) { server in
                let started = ContinuousClock.now
                let connection = try await RawConnection.connect(host: server.host, port: server.port)
                // The start of a ClientHello record that never arrives whole.
                try await connection.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])
                try await connection.expectClosed(timeout: .seconds(20))
                #expect(ContinuousClock.now - started >= .milliseconds(900))
            }
        }

        @Test("An idle session is closed, and a new connection works")
        func idleTimeout() async throws {
            let logs = LogCapture()
            try await withTestServer(limits: ProtocolLimits(idleTimeout: .milliseconds(1500)), logs: logs) { server in
                let client = try await TestClient.connect(to: server)
                #expect(try await client.ping().rc == .requestOK)
                let lastActivity = ContinuousClock.now
                try await client.connection.expectClosed(timeout: .seconds(20))
                #expect(ContinuousClock.now - lastActivity >= .milliseconds(1000))
                #expect(await logs.waitForCloseReason(containing: "idle for 1.5 s") != nil)
                let again = try await TestClient.connect(to: server)
                #expect(try await again.ping().rc == .requestOK)
                await again.close()
            }
        }

        @Test("A session whose peer stops reading is closed after idle timeout plus the flush timeout")
        func peerStopsReading() async throws {
            let logs = LogCapture()
            try await withTestServer(
                limits: ProtocolLimits(idleTimeout: .seconds(3)),
                logs: logs,
                configure: { $0.closeFlushTimeout = .seconds(1) }
            ) { server in
                let payload = pseudoRandomBytes(count: 4 << 20)
                let client = try await TestClient.connectLoggedIn(to: server)
                let channel = client.connection.channel
                try await channel.setOption(ChannelOptions.autoRead, value: false).get()
                // 6 incompressible 4 MiB answers are more than the loopback socket buffers hold. Encoded first,
                // so the requests arrive together and well within the idle timeout.
                let frames = try (0..<6).map { _ in
                    try client.codec.encode(.request(RequestPacket(function: .echo, payload: payload)))
                }
                for frame in frames {
                    channel.writeAndFlush(channel.allocator.buffer(bytes: frame), promise: nil)
                }
                let deadline = ContinuousClock.now + .seconds(30)
                while server.server.sessionCount > 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(server.server.sessionCount == 0)
                #expect(logs.closeReasons.contains { $0.contains("idle for 3.0 s") })
                #expect(
                    logs.all.contains { $0.message == "session closed without flushing" },
                    "\(logs.all.map { "\($0.message) \($0.metadata)" })"
                )
                await client.close()
            }
        }

        @Test("Past maxConnections a new connection is closed at once; after one leaves, a new one is admitted")
        func maxConnections() async throws {
            let logs = LogCapture()
            try await withTestServer(limits: ProtocolLimits(maxConnections: 2), logs: logs) { server in
                let first = try await TestClient.connect(to: server)
                let second = try await TestClient.connect(to: server)
                let third = try await RawConnection.connect(host: server.host, port: server.port)
                try await third.expectClosed(timeout: .seconds(5))
                #expect(
                    logs.all.contains {
                        $0.message == "connection refused" && $0.level == .notice
                            && $0.metadata["reason"]?.contains("max connections") == true
                    }
                )
                #expect(try await first.ping().rc == .requestOK)
                await first.close()
                await waitUntil { server.server.sessionCount < 2 }
                let fourth = try await TestClient.connect(to: server)
                #expect(try await fourth.ping().rc == .requestOK)
                #expect(try await second.ping().rc == .requestOK)
                await second.close()
                await fourth.close()
            }
        }

        @Test("Past maxConnections the connections refused are the last ones accepted, not any others")
        func maxConnectionsInAcceptOrder() async throws {
            let logs = LogCapture()
            try await withTestServer(limits: ProtocolLimits(maxConnections: 3), logs: logs) { server in
                // Connected one after the other, they wait in the kernel's accept queue in this order.
                var connections: [RawConnection] = []
                for _ in 0..<8 {
                    connections.append(try await RawConnection.connect(host: server.host, port: server.port))
                }
                for refused in connections[3...] { try await refused.expectClosed(timeout: .seconds(5)) }
                await waitUntil { server.server.sessionCount == 3 }
                // The first three are open and served, and none of them is among the five refused.
                let first = connections[..<3].compactMap { $0.channel.localAddress.map(FrameworkServer.format) }
                let refusedPeers = logs.all.filter { $0.message == "connection refused" }.compactMap {
                    $0.metadata["peer"]?.description
                }
                #expect(first.count == 3)
                #expect(refusedPeers.count == 5)
                #expect(Set(refusedPeers).isDisjoint(with: first))
                #expect(server.server.sessionCount == 3)
                for connection in connections { await connection.close() }
            }
        }
    }
}

@Suite("Durations")
struct DurationTests {
    @Test("Timeouts too large for a NIO time amount are clamped, not a crash, and the server still works")
    func hugeTimeouts() async throws {
        let forever = Duration.seconds(Int64.max / 2)
        try await withTestServer(limits: ProtocolLimits(handshakeTimeout: forever, idleTimeout: forever)) { server in
            let client = try await TestClient.connect(to: server)
            #expect(try await client.ping().rc == .requestOK)
            await client.close()
        }
    }
}
