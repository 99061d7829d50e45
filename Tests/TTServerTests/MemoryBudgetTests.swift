import NIOCore
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// Issue 13, finding 3: what sessions may buffer is bounded per session before login and server-wide, and the
    /// session asking for more than is left is the one closed. (Serialized: they move a lot of bytes.)
    @Suite("Under attack: memory budget")
    struct MemoryBudgetTests {
        @Test("Before login a frame longer than the pre-login limit closes the session at its length prefix")
        func oversizedFrameBeforeLogin() async throws {
            let logs = LogCapture()
            try await withTestServer(logs: logs) { server in
                let client = try await TestClient.connect(to: server)
                // 16 MiB − 1 announced, then a little of the body: nothing of it may be held.
                var prefix = ByteBuffer()
                prefix.writeInteger(UInt32(16 << 20) - 1)
                try await client.connection.send(Array(prefix.readableBytesView) + [UInt8](repeating: 7, count: 1000))
                try await client.connection.expectClosed(timeout: .seconds(10))
                #expect(await logs.waitForCloseReason(containing: "before login") != nil)
                #expect(server.server.bufferedBytes == 0)

                // After login the same sizes are served.
                let other = try await TestClient.connect(to: server)
                #expect(try await other.login(user: "batch", password: "batch").rc == .requestOK)
                let payload = pseudoRandomBytes(count: 1 << 20)
                let answer = try await other.echo(payload)
                #expect(answer.rc == .requestOK && answer.payload == payload)
                #expect(try await other.logout().rc == .requestOK)
                // Logged out again: the pre-login limit is back.
                try await other.connection.send(
                    other.codec.encode(.request(RequestPacket(function: .echo, payload: payload)))
                )
                try await other.connection.expectClosed(timeout: .seconds(10))
            }
        }

        @Test("Before login an Echo may not inflate past the pre-login limit, and never uses the thread pool")
        func bombBeforeLogin() async throws {
            let logs = LogCapture()
            let held = HeldThreadPool()
            try await withTestServer(logs: logs, threadPool: held.pool) { server in
                let client = try await TestClient.connect(to: server)
                // Zeros deflate ~1030:1: a ~60 KiB frame that inflates to 60 MiB.
                let bomb = try client.codec.encode(
                    .request(RequestPacket(function: .echo, payload: [UInt8](repeating: 0, count: 60 << 20)))
                )
                #expect(bomb.count < 64 << 10)
                try await client.connection.send(bomb)
                // The pool's one thread is held: the session can only have been closed on the event loop.
                try await client.connection.expectClosed(timeout: .seconds(10))
                #expect(await logs.waitForCloseReason(containing: "inflate") != nil)
                #expect(server.server.offloadedJobCount == 0)
            }
            await held.shutdown()
        }

        @Test(
            "Sessions not logged in share a small part of the budget; the one asking past it is closed, a login still works"
        )
        func preLoginShare() async throws {
            let logs = LogCapture()
            try await withTestServer(
                logs: logs,
                configure: { $0.maxPreLoginBufferedBytes = 1 << 20 }
            ) { server in
                // Each hostile session announces a 60 KiB frame and sends all but its last byte: 60 KiB held each,
                // of which 44 KiB are charged. 30 of them would need 1.3 MiB.
                var hostile: [TestClient] = []
                var closed = 0
                for _ in 0..<30 {
                    let client = try await TestClient.connect(to: server)
                    var prefix = ByteBuffer()
                    prefix.writeInteger(UInt32(60 << 10))
                    // Sessions past the share are closed while this runs; their sends may fail.
                    try? await client.connection.send(
                        Array(prefix.readableBytesView) + [UInt8](repeating: 1, count: (60 << 10) - 1)
                    )
                    hostile.append(client)
                }
                let deadline = ContinuousClock.now + .seconds(20)
                while logs.closeReasons.filter({ $0.contains("budget exhausted") }).isEmpty,
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(20))
                }
                closed = logs.closeReasons.filter { $0.contains("budget exhausted") }.count
                #expect(closed > 0)
                #expect(server.server.bufferedBytes <= 1 << 20)
                // A newcomer's Login fits in the bytes every session may hold uncharged.
                let newcomer = try await TestClient.connect(to: server)
                #expect(try await newcomer.login(user: "batch", password: "batch").rc == .requestOK)
                #expect(try await newcomer.echo(pseudoRandomBytes(count: 200 << 10)).rc == .requestOK)
                for client in hostile { await client.close() }
                await newcomer.close()
                await waitUntil { server.server.bufferedBytes == 0 }
                #expect(server.server.bufferedBytes == 0)
            }
        }

        @Test("A logged-in session pipelining Echos without reading is closed at the budget; a bystander is not")
        func pipeliningWithoutReading() async throws {
            let logs = LogCapture()
            try await withTestServer(
                logs: logs,
                configure: { $0.maxBufferedBytes = 4 << 20 }
            ) { server in
                let bystander = try await TestClient.connect(to: server)
                #expect(try await bystander.login(user: "batch", password: "batch").rc == .requestOK)
                // The bystander holds half of a 1 MiB frame in the server while the offender floods.
                let payload = pseudoRandomBytes(count: 1 << 20, seed: 7)
                let frame = try bystander.codec.encode(.request(RequestPacket(function: .echo, payload: payload)))
                try await bystander.connection.send(Array(frame.prefix(frame.count / 2)))

                let offender = try await TestClient.connect(to: server)
                #expect(try await offender.login(user: "batch", password: "batch").rc == .requestOK)
                let channel = offender.connection.channel
                try await channel.setOption(ChannelOptions.autoRead, value: false).get()
                let big = pseudoRandomBytes(count: 2 << 20, seed: 9)
                // Written without waiting: the kernel's buffers fill, then the server's queue of answers.
                for _ in 0..<24 {
                    let request = try offender.codec.encode(.request(RequestPacket(function: .echo, payload: big)))
                    channel.writeAndFlush(channel.allocator.buffer(bytes: request), promise: nil)
                }
                var maxSeen = 0
                let deadline = ContinuousClock.now + .seconds(30)
                while logs.closeReasons.filter({ $0.contains("budget exhausted") }).isEmpty,
                    ContinuousClock.now < deadline
                {
                    maxSeen = max(maxSeen, server.server.bufferedBytes)
                    try await Task.sleep(for: .milliseconds(5))
                }
                #expect(logs.closeReasons.contains { $0.contains("budget exhausted") }, "\(logs.closeReasons)")
                #expect(maxSeen <= 4 << 20)
                #expect(server.server.sessionCount >= 1)
                try await bystander.connection.send(Array(frame.dropFirst(frame.count / 2)))
                let answer = try await bystander.receiveResponse()
                #expect(answer.rc == .requestOK && answer.payload == payload)
                await bystander.close()
                await offender.close()
            }
        }
    }
}
