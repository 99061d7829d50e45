import Foundation
import NIOCore
import Prometheus
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// A session closed while its peer still has bytes on the way: the server shuts its output down (FIN) and reads
    /// and discards for a bounded time before it closes, instead of closing with unread bytes, which makes Linux
    /// send a reset that destroys the answers the peer has not read yet.
    @Suite("Closing with bytes unread")
    struct LingeringCloseTests {
        @Test("An idle close with a request unread delivers every answer, then end of stream; that request never runs")
        func idleCloseWithRequestUnread() async throws {
            let logs = LogCapture()
            let registry = PrometheusCollectorRegistry()
            try await withTestServer(
                limits: ProtocolLimits(idleTimeout: .seconds(3)),
                logs: logs,
                // The client reads only after the idle close; the close waits for that, as long as it takes here.
                configure: { $0.closeFlushTimeout = .seconds(60) },
                metrics: ServerMetrics(factory: PrometheusMetricsFactory(registry: registry))
            ) { server in
                let metrics = { registry.emitToString() }
                // Every step from the login to the Logout must come within the idle timeout. The payload is made
                // before the session starts (0.75 s in a debug build): made after the login, it took the 1.5 s idle
                // timeout of old when the proxy's suites ran beside this one, and the session was closed before the
                // Echo was sent ("I/O on closed channel"). 3 s leaves room for a loaded machine.
                let payload = pseudoRandomBytes(count: 6 << 20)
                let client = try await TestClient.connectLoggedIn(to: server)
                let channel = client.connection.channel
                // The client stops reading, with a small receive buffer: its answer backs up into the server, which
                // then stops reading it (a session that cannot write holds reading).
                try await channel.setOption(ChannelOptions.autoRead, value: false).get()
                try await channel.setOption(ChannelOptions.socketOption(.so_rcvbuf), value: 64 << 10).get()
                // Far more than the server can write while the client does not read: it stops reading the client.
                let sentBefore = metricValue(metrics(), "tt_frame_bytes_sent_total") ?? 0
                try await client.connection.send(
                    client.codec.encode(.request(RequestPacket(function: .echo, payload: payload)))
                )
                // The answer is handed to the channel, which cannot write most of it: it is not writable now.
                let answered = await waitUntil(timeout: .seconds(60)) {
                    (metricValue(metrics(), "tt_frame_bytes_sent_total") ?? 0) - sentBefore >= Double(payload.count)
                }
                try #require(answered)
                // The one read still asked for takes this Ping in and runs it; after it the server holds reading.
                try await client.connection.send(client.codec.encode(.request(RequestPacket(function: .ping))))
                let pinged = await waitUntil(timeout: .seconds(30)) {
                    metricValue(metrics(), #"tt_requests_total{function="Ping",rc="0"}"#) == 1
                }
                try #require(pinged)
                // This Logout stays in the server's receive buffer: nothing reads it before the idle timer fires.
                try await client.connection.send(client.codec.encode(.request(RequestPacket(function: .logout))))
                #expect(await logs.waitForCloseReason(containing: "idle for 3.0 s", timeout: .seconds(30)) != nil)
                try #require(requests(of: "Logout", in: metrics()) == 0, "the Logout was read before the idle close")
                // Now the client reads: the answers written before the close arrive whole, then the end of stream
                // (a reset would throw ECONNRESET here, with the last megabytes of the Echo lost).
                // When the server's kernel took the rest of the answers meanwhile, its FIN may have come already:
                // NIO then reads everything up to it by itself, and the channel is closed.
                try? await channel.setOption(ChannelOptions.autoRead, value: true).get()
                let echoed = try await client.receiveResponse()
                #expect(echoed.rc == .requestOK)
                #expect(echoed.payload == payload)
                #expect(try await client.receiveResponse().rc == .requestOK)
                await #expect(throws: RawConnectionError.closed(received: 0)) {
                    _ = try await client.connection.receive(exactly: 1)
                }
                // The server read the Logout and dropped it; the session ended and is counted so.
                #expect(await waitUntil { server.server.sessionCount == 0 })
                #expect(requests(of: "Logout", in: metrics()) == 0)
                #expect(metricValue(metrics(), "tt_sessions_open") == 0)
                #expect(!logs.all.contains { $0.message == "session closed without flushing" })
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).isEmpty })
                await client.close()
            }
        }

        @Test("A peer that goes on sending after the close is cut off when the linger ends; others are served")
        func lingerEndsInTime() async throws {
            let logs = LogCapture()
            try await withTestServer(
                limits: ProtocolLimits(idleTimeout: .seconds(1)),
                logs: logs,
                configure: { $0.closeLingerTimeout = .seconds(1) }
            ) { server in
                let client = try await TestClient.connect(to: server)
                // It keeps its side open after the server's FIN and writes on, as a peer that never reads would.
                try await client.connection.channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: true).get()
                #expect(try await client.ping().rc == .requestOK)
                #expect(await logs.waitForCloseReason(containing: "idle for 1.0 s", timeout: .seconds(30)) != nil)
                // From the moment the server logged the close, not from when this test noticed it (under load the
                // poll was seen 0.4 s late, and the linger looked 0.6 s long).
                let closed = try #require(logs.timeOfCloseReason(containing: "idle for 1.0 s"))
                let channel = client.connection.channel
                // A byte every 50 ms, until the server has closed (at most 10 s).
                let trickle = Task {
                    for _ in 0..<200 where channel.isActive {
                        guard (try? await channel.writeAndFlush(channel.allocator.buffer(bytes: [0x55]))) != nil else {
                            return
                        }
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
                // Another session is served while this one lingers.
                let other = try await TestClient.connect(to: server)
                #expect(try await other.ping().rc == .requestOK)
                await other.close()
                #expect(await waitUntil(timeout: .seconds(15)) { server.server.sessionCount == 0 })
                let lingered = ContinuousClock.now - closed
                // It lingered while bytes came (a close at once would end it in milliseconds), and no longer than
                // its second, with room for a loaded machine.
                #expect(lingered >= .milliseconds(900), "\(lingered)")
                #expect(lingered < .seconds(8), "\(lingered)")
                await trickle.value
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).isEmpty })
                await client.close()
            }
        }

        @Test("Shutdown waits for the lingering idle sessions once, at most the linger in all, not per session")
        func shutdownLingersOnceForAll() async throws {
            try await withTestServer(configure: { $0.closeLingerTimeout = .seconds(1) }) { server in
                // Idle peers that read nothing, as a client of the blocking library between two requests: they
                // never see the server's end of stream, so they never close first. (A NIO client would: it reads
                // the end of stream even with autoRead off.)
                let peers = (0..<12).map { _ in startLoopbackConnect(port: server.port) }
                defer { for peer in peers { close(peer) } }
                try #require(await waitUntil { server.server.sessionCount == peers.count })
                let started = ContinuousClock.now
                await server.server.shutdown()
                let took = ContinuousClock.now - started
                // It lingered (a close at once takes milliseconds), the 12 lingers together: one after another
                // they would take 12 s. The upper bound leaves room for a loaded machine.
                #expect(took >= .milliseconds(900), "\(took)")
                #expect(took < .seconds(6), "\(took)")
                #expect(server.server.sessionCount == 0)
                // Each peer finds the end of stream, no reset.
                for peer in peers {
                    var byte: UInt8 = 0
                    #expect(recv(peer, &byte, 1, 0) == 0, "errno \(errno)")
                }
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).isEmpty })
            }
        }

        @Test("A peer that sends more than the linger discards is cut off at once")
        func lingerEndsAtItsByteBound() async throws {
            let logs = LogCapture()
            try await withTestServer(
                limits: ProtocolLimits(idleTimeout: .seconds(1)),
                logs: logs,
                // Far longer than the test waits: only the byte bound can end this linger in time.
                configure: { $0.closeLingerTimeout = .seconds(120) }
            ) { server in
                let client = try await TestClient.connect(to: server)
                try await client.connection.channel.setOption(ChannelOptions.allowRemoteHalfClosure, value: true).get()
                #expect(try await client.ping().rc == .requestOK)
                #expect(await logs.waitForCloseReason(containing: "idle for 1.0 s", timeout: .seconds(30)) != nil)
                let channel = client.connection.channel
                // 2 MiB in 64 KiB writes: twice the bound; the writes fail once the server has closed.
                let block = [UInt8](repeating: 0x55, count: 64 << 10)
                for _ in 0..<32 where channel.isActive {
                    guard (try? await channel.writeAndFlush(channel.allocator.buffer(bytes: block))) != nil else {
                        break
                    }
                }
                #expect(await waitUntil(timeout: .seconds(15)) { server.server.sessionCount == 0 })
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).isEmpty })
                await client.close()
            }
        }
    }
}

/// Requests of `function` answered, whatever their RC, in a Prometheus text.
private func requests(of function: String, in text: String) -> Double {
    let prefix = #"tt_requests_total{function=""# + function + #"","#
    return text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap { line in
        line.split(separator: " ").last.flatMap { Double($0) }
    }.reduce(0, +)
}
