import Foundation
import TTClient
import TTProtocol
import TTServer
import TTTestSupport
import TTTransport
import Testing

/// The retry rules against real servers: what was written is never sent again unless it is idempotent; setup and
/// a Login the server did not check are tried again.
@Suite("Exactly-once against a real tt-server")
struct ExactlyOnceTests {
    @Test("a corrupted answer to the Login of a reconnected session: that Login ran once, it is not sent again")
    func flippedLoginAnswerOfReconnect() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tt-exactly-once-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try RequestLog(path: path)
        var limits = ProtocolLimits.default
        limits.idleTimeout = .seconds(1)
        try await withStarted(TestServer.start(users: ["fred": "pw"], limits: limits) { $0.requestLog = log }) {
            server in
            // Connection 2 is the reconnect; its server stream is the hello, then the Login's answer frame. The
            // flipped byte is inside that frame's sealed body.
            let relay = try ByteFlippingRelay.start(
                to: server.port,
                flipConnection: 2,
                offset: Handshake.serverHelloSize + FrameHeader.size + 4
            )
            try await withStarted(relay) { relay in
                let config = ClientConfiguration(
                    server: Endpoint(host: "127.0.0.1", port: relay.port),
                    credentials: Credentials(user: "fred", password: "pw"),
                    identity: .acceptAny,
                    connectTimeout: .seconds(5),
                    requestTimeout: .seconds(5),
                    // More than enough budget: only the exactly-once rule may stop a second Login.
                    reconnect: ReconnectPolicy(maxReconnects: 3)
                )
                let failure = try await runBlocking { () throws -> FrameworkClientError? in
                    let client = FrameworkClient(configuration: config, trace: .disabled)
                    try client.connect()
                    try client.ping()
                    // The relay passes the close on to the client's connection.
                    waitForIdleClose(server, clientConnectsTo: relay.port)
                    do {
                        _ = try client.send(RequestPacket(function: .logout))
                        return nil
                    } catch let error as FrameworkClientError { return error }
                }
                let error = try #require(failure)
                #expect(error.stage == .login)
                #expect(error.category == .notFrameworkServer)
                #expect(relay.connections == 2, "no third connection: the Login is not sent again")
            }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: " ").map(String.init)
        }
        let logins = lines.filter { $0.count == 4 && $0[2] == "Login" }
        #expect(logins.count == 2, "one Login per session: \(lines)")
        #expect(Set(logins.map { $0[1] }).count == 2)
        #expect(!lines.contains { $0.count == 4 && $0[2] == "Logout" })
    }

    @Test(
        "a request that crosses the server's idle close on the wire never runs: Logout fails as outcome unknown, Ping goes out again",
        arguments: [FunctionCode.logout, .ping]
    )
    func requestCrossingTheIdleClose(function: FunctionCode) async throws {
        let (outcome, connections, ran) = try await crossIdleClose(function, tls: .never)
        switch function {
        case .ping:
            #expect(try outcome.get() == .requestOK)
            #expect(connections == 2, "sent again on a new connection")
        default:
            #expect(throws: FrameworkClientError.self) { try outcome.get() }
            if case .failure(let error) = outcome {
                #expect(error.category == .outcomeUnknown, "\(error)")
                #expect(error.message.contains("may have run"))
            }
            #expect(connections == 1, "not sent again")
        }
        // The first Ping, and the one sent again; the request that reached the closing session never ran.
        #expect(ran == (function == .ping ? 2 : 0))
    }

    @Test(
        "inside TLS the server's close_notify arrives ahead of its delayed FIN: the request provably never left",
        arguments: [FunctionCode.logout, .ping]
    )
    func closeNotifyAheadOfTheFIN(function: FunctionCode) async throws {
        let (outcome, connections, ran) = try await crossIdleClose(function, tls: .always)
        #expect(try outcome.get() == .requestOK)
        #expect(connections == 2)
        #expect(ran == (function == .ping ? 2 : 1))
    }

    /// Opens a session to a server with a 1 s idle timeout through a relay that passes the server's end of stream
    /// on only once the client has sent more, then sends `function` once the server has closed.
    /// - Returns: the call's outcome, the connections the client made, and how often `function` ran in all.
    private func crossIdleClose(
        _ function: FunctionCode,
        tls: TLSMode
    ) async throws -> (Result<ReturnCode, FrameworkClientError>, Int, Int) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tt-crossing-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try RequestLog(path: path)
        var limits = ProtocolLimits.default
        limits.idleTimeout = .seconds(1)
        let (outcome, connections) = try await withStarted(
            TestServer.start(users: ["fred": "pw"], limits: limits) { $0.requestLog = log }
        ) { server in
            // As when the close and the request cross on a network: the client's check of the idle connection
            // just before writing finds it open.
            let relay = try ByteFlippingRelay.start(
                to: server.port,
                flipConnection: 0,
                offset: 0,
                holdTargetClose: true
            )
            return try await withStarted(relay) { relay in
                let config = ClientConfiguration(
                    server: Endpoint(host: "127.0.0.1", port: relay.port),
                    credentials: Credentials(user: "fred", password: "pw"),
                    identity: .acceptAny,
                    connectTimeout: .seconds(5),
                    requestTimeout: .seconds(5),
                    reconnect: .once,
                    tls: TargetTLSOptions(mode: tls)
                )
                let outcome = try await runBlocking { () throws -> Result<ReturnCode, FrameworkClientError> in
                    let client = FrameworkClient(configuration: config, trace: .disabled)
                    defer { client.close() }
                    try client.connect()
                    try client.ping()
                    // Bounded: the idle timeout is 1 s.
                    let deadline = ContinuousClock.now + .seconds(20)
                    while relay.targetCloses == 0, ContinuousClock.now < deadline { usleep(10_000) }
                    do {
                        return .success(try client.send(RequestPacket(function: function)).rc)
                    } catch let error as FrameworkClientError {
                        return .failure(error)
                    }
                }
                #expect(relay.targetCloses >= 1)
                return (outcome, relay.connections)
            }
        }
        let ran = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: " ").map(String.init)
        }.filter { $0.count == 4 && $0[2] == "\(function)" }
        return (outcome, connections, ran.count)
    }

    @Test("a Login answered Server busy is tried again with backoff and succeeds once the server has room")
    func busyLoginRetried() async throws {
        let held = HeldThreadPool()
        try await withStarted(
            TestServer.start(users: ["fred": "right"], threadPool: held.pool) {
                $0.maxConcurrentLoginChecks = 1
                $0.maxQueuedLoginsPerAddress = 0
            }
        ) { server in
            let config = ClientConfiguration(
                server: Endpoint(host: server.host, port: server.port),
                credentials: Credentials(user: "fred", password: "right"),
                identity: .acceptAny,
                connectTimeout: .seconds(10),
                reconnect: .never
            )
            // The first login holds the only check slot (the pool's thread is blocked) until the gate opens.
            let first = Task {
                try await runBlocking { () -> Bool in
                    let client = FrameworkClient(configuration: config, trace: .disabled)
                    defer { client.close() }
                    return (try? client.connect()) != nil
                }
            }
            #expect(await waitUntil { server.server.pendingLoginChecks >= 1 })
            let events = EventLog()
            let second = Task {
                try await runBlocking { () throws -> (Int, Int) in
                    let client = FrameworkClient(configuration: config, trace: .disabled, observer: events.append)
                    defer { client.close() }
                    try client.connect()
                    return (client.connectionCount, events.reconnects)
                }
            }
            // The second Login was answered Server busy and is tried again: now the check slot frees up.
            #expect(await waitUntil { events.reconnects >= 1 })
            held.release()
            let (connections, reconnects) = try await second.value
            #expect(connections >= 2, "the busy Login was tried again on a new connection")
            #expect(reconnects == connections - 1)
            #expect(try await first.value)
        }
        await held.shutdown()
    }
}
