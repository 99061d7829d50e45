import Foundation
import TTProtocol
import TTServer
import TTTestSupport
import Testing

@Suite("Requests")
struct RequestTests {
    @Test("Ping answers Request OK with an empty payload and a measured elapsed time")
    func ping() async throws {
        try await withTestServer { server in
            let client = try await TestClient.connect(to: server)
            let response = try await client.ping()
            #expect(response.rc == .requestOK)
            #expect(response.payload.isEmpty)
            #expect(response.count == 0)
            #expect(response.elapsedMilliseconds < 5_000)
            #expect(client.serverIdentity == server.identity.publicKey)
            await client.close()
        }
    }

    @Test("Login with the right password is accepted and Logout then succeeds")
    func loginAndLogout() async throws {
        try await withTestServer(users: ["alice": "wonder land"]) { server in
            let client = try await TestClient.connect(to: server)
            #expect(try await client.login(user: "alice", password: "wonder land").rc == .requestOK)
            #expect(try await client.logout().rc == .requestOK)
            // Logged out, the session stays open and Logout now needs a login again.
            #expect(try await client.logout().rc == .notLoggedIn)
            #expect(try await client.ping().rc == .requestOK)
            await client.close()
        }
    }

    @Test("A wrong password or unknown user is rejected after the failed-login delay")
    func loginRejected() async throws {
        try await withTestServer(users: ["alice": "secret"]) { server in
            let client = try await TestClient.connect(to: server)
            let wrong = try await client.login(user: "alice", password: "guess")
            #expect(wrong.rc == .loginRejected)
            #expect(wrong.elapsedMilliseconds >= 20)
            #expect(try await client.login(user: "mallory", password: "secret").rc == .loginRejected)
            #expect(try await client.logout().rc == .notLoggedIn)
            #expect(try await client.login(user: "alice", password: "secret").rc == .requestOK)
            await client.close()
        }
    }

    @Test("A user name with newlines and 10 KiB is logged escaped and truncated")
    func loggedUserNameIsSanitised() async throws {
        let logs = LogCapture()
        try await withTestServer(logs: logs) { server in
            let client = try await TestClient.connect(to: server)
            let user = "eve\nlogin user=root\u{202E}" + String(repeating: "x", count: 10 << 10)
            #expect(try await client.login(user: user, password: "p").rc == .loginRejected)
            let logged = try #require(logs.all.first { $0.message == "login rejected" }?.metadata["user"])
            #expect(logged.hasPrefix("eve\\nlogin user=root\\u{202E}xxx"))
            #expect(logged.hasSuffix("… (\(user.utf8.count) bytes)"))
            #expect(!logged.contains("\n") && !logged.contains("\u{202E}"))
            #expect(logged.count <= 64 + 20)
            await client.close()
        }
    }

    @Test("A login payload that does not parse is a Bad request, not a closed session")
    func malformedLoginPayload() async throws {
        try await withTestServer { server in
            let client = try await TestClient.connect(to: server)
            let response = try await client.send(RequestPacket(function: .login, payload: [0, 9, 65]))
            #expect(response.rc == .badRequest)
            #expect(try await client.ping().rc == .requestOK)
            await client.close()
        }
    }

    @Test("Too many failed logins close the session after the last answer")
    func tooManyFailedLogins() async throws {
        let logs = LogCapture()
        try await withTestServer(
            users: ["alice": "secret"],
            logs: logs,
            configure: {
                $0.maxFailedLoginsPerSession = 2
            }
        ) { server in
            let client = try await TestClient.connect(to: server)
            #expect(try await client.login(user: "alice", password: "a").rc == .loginRejected)
            #expect(try await client.login(user: "alice", password: "b").rc == .loginRejected)
            try await client.connection.expectClosed()
            #expect(await logs.waitForCloseReason(containing: "2 failed logins") != nil)
            #expect(!logs.all.contains { "\($0.metadata)".contains("secret") || $0.message.contains("secret") })
        }
    }

    @Test("Echo returns the payload with count = its length", arguments: [0, 1024, 4 << 20])
    func echo(size: Int) async throws {
        try await withTestServer { server in
            let client = try await TestClient.connectLoggedIn(to: server)
            let payload = pseudoRandomBytes(count: size)
            let response = try await client.echo(payload)
            #expect(response.rc == .requestOK)
            #expect(response.count == UInt32(size))
            #expect(response.payload == payload)
            await client.close()
        }
    }

    @Test("An Echo whose answer would exceed maxFrameSize gets Bad request and the session stays open")
    func echoAnswerTooLarge() async throws {
        let maxFrameSize = 64 << 10
        try await withTestServer(limits: ProtocolLimits(maxFrameSize: maxFrameSize)) { server in
            let client = try await TestClient.connectLoggedIn(to: server)
            // The largest incompressible payload whose request still fits; the answer's header is 8 bytes longer.
            let probe = try PacketCodec(keys: client.keys.reversed, limits: ProtocolLimits(maxFrameSize: 1 << 20))
            var size = maxFrameSize
            while size > 0,
                try probe.encode(.request(RequestPacket(function: .echo, payload: pseudoRandomBytes(count: size))))
                    .count
                    - 4 > maxFrameSize
            {
                size -= 1
            }
            let response = try await client.echo(pseudoRandomBytes(count: size))
            #expect(response.rc == .badRequest)
            #expect(try await client.ping().rc == .requestOK)
            await client.close()
        }
    }

    @Test("An unknown function answers Unknown function and the session stays open")
    func unknownFunction() async throws {
        try await withTestServer { server in
            let client = try await TestClient.connect(to: server)
            let response = try await client.send(RequestPacket(function: FunctionCode(rawValue: 999)))
            #expect(response.rc == .unknownFunction)
            #expect(try await client.ping().rc == .requestOK)
            await client.close()
        }
    }

    @Test("Pipelined requests, a large one among them, are answered in order")
    func pipelinedInOrder() async throws {
        try await withTestServer { server in
            let client = try await TestClient.connectLoggedIn(to: server)
            let payloads: [[UInt8]] = [
                [1], pseudoRandomBytes(count: 1 << 20), [], [3, 3, 3], pseudoRandomBytes(count: 200_000, seed: 7), [5],
            ]
            var frames: [UInt8] = []
            for payload in payloads {
                frames += try client.codec.encode(.request(RequestPacket(function: .echo, payload: payload)))
            }
            try await client.connection.send(frames)
            for payload in payloads {
                let response = try await client.receiveResponse()
                #expect(response.payload == payload)
            }
            await client.close()
        }
    }

    @Test("The server listens on IPv6 loopback")
    func ipv6() async throws {
        try await withTestServer(host: "::1") { server in
            let client = try await TestClient.connect(to: server)
            #expect(try await client.ping().rc == .requestOK)
            await client.close()
        }
    }

    @Test("64 concurrent sessions each ping 20 times")
    func concurrentSessions() async throws {
        try await withTestServer { server in
            let okCount = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        let client = try await TestClient.connect(to: server)
                        var ok = 0
                        for _ in 0..<20 where try await client.ping().rc == .requestOK { ok += 1 }
                        await client.close()
                        return ok
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(okCount == 64 * 20)
        }
    }

    @Test("Pings on another session keep flowing while a large Echo is being compressed")
    func largeEchoDoesNotStallOthers() async throws {
        try await withTestServer { server in
            let small = try await TestClient.connect(to: server)
            let (sent, sentSignal) = AsyncStream.makeStream(of: Void.self)
            let echo = Task {
                let big = try await TestClient.connectLoggedIn(to: server)
                let payload = pseudoRandomBytes(count: 12 << 20)
                try await big.connection.send(
                    big.codec.encode(.request(RequestPacket(function: .echo, payload: payload)))
                )
                sentSignal.yield()
                let response = try await big.receiveResponse()
                let finished = ContinuousClock.now
                await big.close()
                return (response.payload == payload, finished)
            }
            for await _ in sent { break }
            for _ in 0..<3 {
                #expect(try await small.ping().rc == .requestOK)
            }
            let pingsDone = ContinuousClock.now
            let (matches, finished) = try await echo.value
            #expect(matches)
            // Three round trips on the other session finished while the server was still busy with the echo.
            #expect(pingsDone < finished)
            await small.close()
        }
    }
}

@Suite("Request log")
struct RequestLogTests {
    @Test("--request-log records each executed request once, with its session and opt-args, before the answer")
    func recordsExecutedRequests() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tt-request-log-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try RequestLog(path: path)
        try await withTestServer(users: ["alice": "secret"], configure: { $0.requestLog = log }) { server in
            let first = try await TestClient.connect(to: server)
            let second = try await TestClient.connect(to: server)
            let login = try LoginPayload(user: "alice", password: "secret").serialize()
            #expect(try await first.send(RequestPacket(function: .login, optArgs: 7, payload: login)).rc == .requestOK)
            #expect(try await first.send(RequestPacket(function: .logout, optArgs: 8)).rc == .requestOK)
            // Not logged in: nothing ran, so nothing is recorded.
            #expect(try await first.send(RequestPacket(function: .logout, optArgs: 9)).rc == .notLoggedIn)
            #expect(
                try await second.send(RequestPacket(function: .echo, optArgs: 10, payload: [1, 2])).rc == .requestOK
            )
            #expect(try await second.send(RequestPacket(function: .ping, optArgs: 11)).rc == .requestOK)
            // A rejected Login ran too: it counts towards closing the session.
            let wrong = try LoginPayload(user: "alice", password: "guess").serialize()
            #expect(
                try await second.send(RequestPacket(function: .login, optArgs: 12, payload: wrong)).rc == .loginRejected
            )
            await first.close()
            await second.close()
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: " ").map(String.init)
        }
        let pid = String(getpid())
        #expect(lines.allSatisfy { $0.count == 4 && $0[0] == pid })
        #expect(lines.map { "\($0[2]) \($0[3])" } == ["Login 7", "Logout 8", "Echo 10", "Ping 11", "Login 12"])
        let sessions = lines.map { $0[1] }
        #expect(sessions[0] == sessions[1] && sessions[2] == sessions[3] && sessions[3] == sessions[4])
        #expect(sessions[0] != sessions[2])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
