import NIOCore
import NIOPosix
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    @Suite("Offloaded work")
    struct OffloadTests {
        @Test(
            "A ~64 KiB frame inflating to the limit goes to the thread pool: pings on its event loop stay prompt",
            arguments: [false, true]
        )
        func smallFrameInflatingFar(overLimit: Bool) async throws {
            let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let held = HeldThreadPool(held: false)
            let logs = LogCapture()
            let limit = ProtocolLimits.default.maxInflatedSize
            // Zeros deflate ~1030:1: the frame stays under the 64 KiB offload threshold.
            let size = overLimit ? limit + 1 - RequestPacket.headerSize : limit - 64
            try await withTestServer(logs: logs, eventLoopGroup: loop, threadPool: held.pool) { server in
                // Large packets need a logged-in session; the pool is held once the password check is done.
                let sender = try await TestClient.connectLoggedIn(to: server)
                let bystander = try await TestClient.connect(to: server)
                held.hold()
                let frame = try sender.codec.encode(
                    .request(RequestPacket(function: .echo, payload: [UInt8](repeating: 0, count: size)))
                )
                #expect(frame.count - 4 - 16 < 64 << 10)
                try await sender.connection.send(frame)
                var slowest = Duration.zero
                for _ in 0..<20 {
                    let sent = ContinuousClock.now
                    #expect(try await bystander.ping().rc == .requestOK)
                    slowest = max(slowest, ContinuousClock.now - sent)
                }
                #expect(slowest < .milliseconds(500), "slowest ping \(slowest)")
                // The pool's only thread is held, so the frame cannot have been inflated yet.
                #expect(logs.closeReasons.isEmpty)
                #expect(server.server.sessionCount == 2)
                held.release()
                if overLimit {
                    try await sender.connection.expectClosed(timeout: .seconds(30))
                    #expect(await logs.waitForCloseReason(containing: "inflates beyond") != nil)
                } else {
                    let response = try await sender.receiveResponse(timeout: .seconds(60))
                    #expect(response.rc == .requestOK)
                    #expect(response.count == UInt32(size))
                    #expect(response.payload.count == size && response.payload.allSatisfy { $0 == 0 })
                    await sender.close()
                }
                #expect(try await bystander.ping().rc == .requestOK)
                await bystander.close()
            }
            await held.shutdown()
            try await loop.shutdownGracefully()
        }

        @Test("With the thread-pool budget used up, large Echos get Server busy; the rest are answered")
        func budgetExhausted() async throws {
            let held = HeldThreadPool(held: false)
            try await withTestServer(
                users: ["alice": "secret"],
                configure: { $0.maxOffloadedJobs = 1 },
                threadPool: held.pool
            ) { server in
                let payload = pseudoRandomBytes(count: 1 << 20)
                let first = try await TestClient.connectLoggedIn(to: server, user: "alice", password: "secret")
                var others: [TestClient] = []
                for _ in 0..<3 {
                    others.append(try await TestClient.connectLoggedIn(to: server, user: "alice", password: "secret"))
                }
                held.hold()
                let request = RequestPacket(function: .echo, payload: payload)
                try await first.connection.send(first.codec.encode(.request(request)))
                await waitUntil { server.server.offloadedJobCount >= 1 }
                try #require(server.server.offloadedJobCount == 1)
                // The one job sits on the held pool: everything else that needs the pool is refused at once.
                // (Password checks have a share of their own: FairnessTests.)
                for client in others {
                    #expect(try await client.echo(payload).rc == .serverBusy)
                    #expect(try await client.ping().rc == .requestOK)
                }
                held.release()
                let answer = try await first.receiveResponse(timeout: .seconds(30))
                #expect(answer.rc == .requestOK && answer.payload == payload)
                for client in others {
                    let retry = try await client.echo(payload)
                    #expect(retry.rc == .requestOK && retry.payload == payload)
                    await client.close()
                }
                #expect(try await first.logout().rc == .requestOK)
                #expect(try await first.login(user: "alice", password: "secret").rc == .requestOK)
                #expect(server.server.offloadedJobCount == 0)
                await first.close()
            }
            await held.shutdown()
        }

        @Test("Corrupt gzip in a small frame still closes the session at once, without the thread pool")
        func corruptSmallFrame() async throws {
            let held = HeldThreadPool()
            let logs = LogCapture()
            try await withTestServer(logs: logs, threadPool: held.pool) { server in
                let client = try await TestClient.connect(to: server)
                // A sealer from the same keys seals bytes that are not gzip at all.
                let sealer = try FrameSealer(keys: client.keys)
                try await client.connection.send(sealer.seal(Array("not gzip at all".utf8)))
                try await client.connection.expectClosed(timeout: .seconds(10))
                #expect(await logs.waitForCloseReason(containing: "gzip") != nil)
            }
            await held.shutdown()
        }
    }
}
