import Foundation
import Synchronization
import TTClient
import TTCommandLine
import TTProtocol
import TTServer
import TTTestSupport
import TTTransport
import Testing

@Suite("FrameworkClient against a real tt-server")
struct FrameworkClientTests {
    private func configuration(
        _ server: TestServer,
        credentials: Credentials? = nil,
        identity: IdentityPolicy = .acceptAny,
        reconnect: ReconnectPolicy = .once
    ) -> ClientConfiguration {
        ClientConfiguration(
            server: Endpoint(host: server.host, port: server.port),
            credentials: credentials,
            identity: identity,
            connectTimeout: .seconds(5),
            requestTimeout: .seconds(5),
            reconnect: reconnect
        )
    }

    @Test("connects, verifies the pinned identity, logs in, pings and echoes")
    func happyPath() async throws {
        try await withStarted(TestServer.start(users: ["fred": "s3cret"])) { server in
            let config = configuration(
                server,
                credentials: Credentials(user: "fred", password: "s3cret"),
                identity: .pinned(server.fingerprint)
            )
            let stages = try await runBlocking { () throws -> [ClientStage] in
                let events = EventLog()
                let client = FrameworkClient(configuration: config, trace: .disabled, observer: events.append)
                try client.connect()
                let pong = try client.ping()
                #expect(pong.rc == .requestOK)
                let payload = Array("records ".utf8) + (0..<5000).map { UInt8(truncatingIfNeeded: $0) }
                let echo = try client.send(RequestPacket(function: .echo, payload: payload))
                #expect(echo.payload == payload)
                #expect(echo.count == UInt32(payload.count))
                #expect(client.serverIdentity?.fingerprint == server.fingerprint)
                #expect(client.lastExchangeSize.received > ResponsePacket.headerSize)
                return events.stages
            }
            #expect(stages == [.serverConnect, .handshake, .login])
        }
    }

    @Test("a wrong password is a login rejection (exit 11) that names the user but not the password")
    func loginRejected() async throws {
        try await withStarted(TestServer.start(users: ["fred": "right"])) { server in
            let config = configuration(server, credentials: Credentials(user: "fred", password: "Wr0ngPassw0rd"))
            let failure = try await connectError(config)
            #expect(failure.category == .loginRejected)
            #expect(failure.category.exitCode == 11)
            #expect(failure.stage == .login)
            #expect(failure.message.contains("fred"))
            #expect(!failure.message.contains("Wr0ngPassw0rd"))
            // The library names the values; the command line adds the flag that sets them.
            #expect(!failure.message.contains("-S"))
            #expect(failure.commandLineMessage.contains("-S user:password@server:port"))
            #expect(!failure.commandLineMessage.contains("Wr0ngPassw0rd"))
        }
    }

    @Test("a login answered Server busy until the connect timeout is busy (exit 14), not a login rejection")
    func loginBusy() async throws {
        // The pool's only thread is held, so the first login's check cannot finish; with no queue, the second
        // login is refused as busy.
        let held = HeldThreadPool()
        try await withStarted(
            TestServer.start(users: ["fred": "right"], threadPool: held.pool) {
                $0.maxConcurrentLoginChecks = 1
                $0.maxQueuedLoginsPerAddress = 0
            }
        ) { server in
            let base = configuration(server, credentials: Credentials(user: "fred", password: "right"))
            var config = base
            // The held login waits for the gate while the second one retries its busy answers.
            var holdingConfig = base
            holdingConfig.requestTimeout = .seconds(30)
            let holding = holdingConfig
            // Busy answers are waited out within the connect timeout: a short one ends the second login soon.
            config.connectTimeout = .seconds(1)
            let first = Task {
                try await runBlocking { () -> Bool in
                    let client = FrameworkClient(configuration: holding, trace: .disabled)
                    defer { client.close() }
                    return (try? client.connect()) != nil
                }
            }
            await waitUntil { server.server.pendingLoginChecks >= 1 }
            let failure = try await connectError(config)
            #expect(failure.category == .serverBusy)
            #expect(failure.category.exitCode == 14)
            #expect(failure.stage == .login)
            #expect(failure.message.contains("busy"))
            #expect(!failure.message.contains("rejected"))
            held.release()
            #expect(try await first.value, "the login that held the check slot succeeds once the pool runs")
        }
        await held.shutdown()
    }

    @Test("a pinned key that does not match is an identity mismatch (exit 10)")
    func pinnedMismatch() async throws {
        try await withStarted(TestServer.start()) { server in
            let other = ServerIdentity.generate()
            let config = configuration(server, identity: .pinned(other.fingerprint))
            let error = try await connectError(config)
            #expect(error.category == .identityMismatch)
            #expect(error.category.exitCode == 10)
            #expect(error.message.contains(server.fingerprint.description))
            #expect(error.message.contains(other.fingerprint.description))
        }
    }

    @Test("trust on first use remembers the key, accepts it again and refuses a different one")
    func trustOnFirstUse() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tofu-\(UUID())/known").path
        let known = KnownServers(path: file)
        let firstFingerprint = try await withStarted(TestServer.start()) { first in
            let config = configuration(first, identity: .trustOnFirstUse(known))
            try await runBlocking { try FrameworkClient(configuration: config, trace: .disabled).connect() }
            #expect(try known.fingerprint(for: "\(first.host):\(first.port)") == first.fingerprint.description)
            try await runBlocking { try FrameworkClient(configuration: config, trace: .disabled).connect() }
            return first.fingerprint
        }

        // Another server (another key) pretending to be the same host:port.
        try await withStarted(TestServer.start()) { impostor in
            try known.remember("\(impostor.host):\(impostor.port)", fingerprint: firstFingerprint.description)
            let error = try await connectError(configuration(impostor, identity: .trustOnFirstUse(known)))
            #expect(error.category == .identityMismatch)
            #expect(error.message.contains(file))
        }
    }

    @Test("a closed port is server unreachable (exit 8) and names host:port")
    func closedPort() async throws {
        // Bound, not listening, held to the end: a released port could be taken by another test meanwhile.
        let closed = try ClosedPort()
        let port = closed.port
        let config = ClientConfiguration(
            server: Endpoint(host: "127.0.0.1", port: port),
            identity: .acceptAny,
            connectTimeout: .seconds(5)
        )
        let error = try await connectError(config)
        withExtendedLifetime(closed) {}
        #expect(error.category == .serverUnreachable)
        #expect(error.category.exitCode == 8)
        #expect(error.message.contains("127.0.0.1:\(port)"))
    }

    @Test("a web server is not a framework server (exit 9), and the message shows what it answered")
    func webServer() async throws {
        try await withStarted(EchoServer.start(greeting: Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))) { web in
            let config = ClientConfiguration(
                server: Endpoint(host: web.host, port: web.port),
                identity: .acceptAny,
                connectTimeout: .seconds(5)
            )
            let error = try await connectError(config)
            #expect(error.category == .notFrameworkServer)
            #expect(error.stage == .handshake)
            #expect(error.message.contains("HTTP/1"))
        }
    }

    @Test("a silent peer runs into the connect deadline (exit 12) at the handshake stage")
    func silentPeer() async throws {
        // The echo server sends our own hello back (70 bytes) and then nothing more: never a ServerHello.
        try await withStarted(EchoServer.start()) { echo in
            let config = ClientConfiguration(
                server: Endpoint(host: echo.host, port: echo.port),
                identity: .acceptAny,
                connectTimeout: .milliseconds(300)
            )
            let error = try await connectError(config)
            #expect(error.category == .timedOut)
            #expect(error.stage == .handshake)
        }
    }

    @Test("after the server times the session out, the next request reconnects and logs in again")
    func reconnectsAfterIdleTimeout() async throws {
        var limits = ProtocolLimits.default
        limits.idleTimeout = .milliseconds(300)
        try await withStarted(TestServer.start(users: ["fred": "pw"], limits: limits)) { server in
            let config = configuration(server, credentials: Credentials(user: "fred", password: "pw"))
            let (count, reconnects) = try await runBlocking { () throws -> (Int, Int) in
                let events = EventLog()
                let client = FrameworkClient(configuration: config, trace: .disabled, observer: events.append)
                try client.ping()
                // Counted from here: on a loaded machine the idle timeout can already end the first session
                // between its Login and the Ping.
                let (connections, reconnects) = (client.connectionCount, events.reconnects)
                waitForIdleClose(server)
                // Logout needs a login: it succeeding proves the new session logged in again.
                let logout = try client.send(RequestPacket(function: .logout))
                #expect(logout.rc == .requestOK)
                return (client.connectionCount - connections, events.reconnects - reconnects)
            }
            #expect(count == 1, "one new connection after the idle timeout")
            #expect(reconnects == 1)
        }
    }

    @Test("with reconnects off, a session the server closed is reported, not hidden")
    func noReconnect() async throws {
        var limits = ProtocolLimits.default
        limits.idleTimeout = .milliseconds(200)
        try await withStarted(TestServer.start(limits: limits)) { server in
            let config = configuration(server, reconnect: .never)
            let error = try await runBlocking { () throws -> FrameworkClientError? in
                // On a loaded machine the 200 ms idle timeout can end a session between its handshake and its
                // first Ping (a reset when the Ping was already in the server's socket): that session shows
                // nothing about a later request, so take a new client, a few times at most.
                var opened: FrameworkClient?
                for _ in 0..<5 where opened == nil {
                    let candidate = FrameworkClient(configuration: config, trace: .disabled)
                    do {
                        try candidate.ping()
                        opened = candidate
                    } catch let error as FrameworkClientError where error.category == .serverUnreachable {
                        continue
                    }
                }
                let client = try #require(opened, "no session lived from its handshake to its first Ping")
                waitForIdleClose(server)
                do {
                    try client.ping()
                    return nil
                } catch let error as FrameworkClientError { return error } catch { return nil }
            }
            let failure = try #require(error)
            #expect(failure.category == .serverUnreachable)
            #expect(failure.message.contains("closed the session"))
        }
    }

    @Test("the API trace records init, connect, each request and its answer, and term, never the password")
    func traceFile() async throws {
        try await withStarted(TestServer.start(users: ["fred": "Tr4ceSecret"])) { server in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let trace = APITrace(environment: ["TMSSAPILOGDIR": directory.path], processID: 777)
            let config = configuration(server, credentials: Credentials(user: "fred", password: "Tr4ceSecret"))
            try await runBlocking {
                let client = FrameworkClient(configuration: config, trace: trace)
                try client.ping()
            }
            let text = try String(contentsOfFile: try #require(trace.path), encoding: .utf8)
            let events = text.split(separator: "\n").map { $0.dropFirst(10) }  // drop "HH:MM:SS: "
            #expect(events.first?.hasPrefix("TMSS10API_Init (API Version=") == true)
            #expect(events.contains("TMSS10API_Connect: Server(127.0.0.1) Port(\(server.port))"))
            #expect(events.contains("TMSS10API_Connect: Connection OK IP(127.0.0.1:\(server.port))"))
            #expect(events.contains("TMSS10API_Login: User(fred)"))
            #expect(events.contains("TMSS10API_Send: Function(Ping) Length(0) Flags(0) OptArgs(0)"))
            #expect(events.contains { $0.hasPrefix("TMSS10API_Send: RC(Request OK) Feedback(0) MiliSecs(") })
            #expect(events.last == "TMSS10API_Term")
            #expect(!text.contains("Tr4ceSecret"))
        }
    }

    private func connectError(_ config: ClientConfiguration) async throws -> FrameworkClientError {
        let error = try await runBlocking { () -> FrameworkClientError? in
            do {
                try FrameworkClient(configuration: config, trace: .disabled).connect()
                return nil
            } catch let error as FrameworkClientError { return error } catch { return nil }
        }
        return try #require(error)
    }
}

/// Waits, bounded by 20 s, until the server's idle timeout has closed every session and the client's connection to
/// `port` (the server's, or the relay's or proxy's in between) has taken in that close. A fixed sleep is too short on
/// a loaded machine; and the server's count alone is too early: the close reaches the client's socket later (through
/// `ksoftirqd`, or a relay's thread). A request sent before it does goes out on the old session, which then drops
/// it: a reconnect the test expects becomes "outcome unknown".
func waitForIdleClose(_ server: TestServer, clientConnectsTo port: Int? = nil) {
    let deadline = ContinuousClock.now + .seconds(20)
    while server.server.sessionCount > 0 || hasEstablishedConnection(toPort: port ?? server.port),
        ContinuousClock.now < deadline
    {
        Thread.sleep(forTimeInterval: 0.02)
    }
}

/// Collects client events from the observer callback.
final class EventLog: Sendable {
    private let events = Mutex<[ClientEvent]>([])

    func append(_ event: ClientEvent) { events.withLock { $0.append(event) } }

    var stages: [ClientStage] {
        events.withLock {
            $0.compactMap { if case .stageCompleted(let stage, _, _) = $0 { stage } else { nil } }
        }
    }

    var reconnects: Int {
        events.withLock { $0.filter { if case .reconnecting = $0 { true } else { false } }.count }
    }
}

@Suite("FrameworkClient never repeats a request the server may have acted on")
struct FrameworkClientRetrySafetyTests {
    private func partialAnswerConfig(_ server: PartialAnswerServer) -> ClientConfiguration {
        ClientConfiguration(
            server: Endpoint(host: "127.0.0.1", port: server.port),
            identity: .acceptAny,
            connectTimeout: .seconds(5),
            requestTimeout: .seconds(5),
            reconnect: .once
        )
    }

    /// Sends `request` once on a fresh client and returns the error it ends with.
    private func sendError(
        _ request: RequestPacket,
        _ config: ClientConfiguration
    ) async throws
        -> FrameworkClientError
    {
        let failure = try await runBlocking { () -> FrameworkClientError? in
            let client = FrameworkClient(configuration: config, trace: .disabled)
            do {
                _ = try client.send(request)
                return nil
            } catch let error as FrameworkClientError { return error } catch { return nil }
        }
        return try #require(failure)
    }

    private static let loginRequest = RequestPacket(
        function: .login,
        payload: (try? LoginPayload(user: "fred", password: "pw").serialize()) ?? []
    )

    @Test(
        "a Login whose connection drops after it was sent is not sent again: one connection, outcome unknown",
        // No answer byte, one byte, a partial frame header, the header and part of the body.
        arguments: [0, 1, 2, 20]
    )
    func noRetryOfLoginAfterSend(answerBytes: Int) async throws {
        try await withStarted(PartialAnswerServer.start(answerBytes: answerBytes)) { server in
            let error = try await sendError(Self.loginRequest, partialAnswerConfig(server))
            #expect(error.category == .outcomeUnknown)
            #expect(error.category.exitCode == 15)
            #expect(error.message.contains("may have run"))
            #expect(!error.message.contains("pw"))
            #expect(server.connections == 1)
        }
    }

    @Test(
        "an idempotent request (Ping, Echo) whose connection drops after it was sent is sent again",
        arguments: [FunctionCode.ping, .echo],
        [0, 20]
    )
    func idempotentRequestRetried(function: FunctionCode, answerBytes: Int) async throws {
        try await withStarted(PartialAnswerServer.start(answerBytes: answerBytes)) { server in
            let error = try await sendError(RequestPacket(function: function), partialAnswerConfig(server))
            // The second connection breaks the same way; that ends it (reconnect once).
            #expect(error.category == .serverUnreachable)
            #expect(server.connections == 2)
        }
    }

    @Test("after the server's idle timeout, a Login request reconnects transparently: it provably never left")
    func loginReconnectsAfterIdleTimeout() async throws {
        var limits = ProtocolLimits.default
        limits.idleTimeout = .milliseconds(300)
        try await withStarted(TestServer.start(users: ["fred": "pw"], limits: limits)) { server in
            let config = ClientConfiguration(
                server: Endpoint(host: server.host, port: server.port),
                identity: .acceptAny,
                connectTimeout: .seconds(5),
                requestTimeout: .seconds(5)
            )
            let (rc, count) = try await runBlocking { () throws -> (ReturnCode, Int) in
                let client = FrameworkClient(configuration: config, trace: .disabled)
                try client.ping()
                // Counted from here: the idle timeout can end the first session before the Ping on a loaded machine.
                let connections = client.connectionCount
                waitForIdleClose(server)
                return (try client.send(Self.loginRequest).rc, client.connectionCount - connections)
            }
            #expect(rc == .requestOK)
            #expect(count == 1, "one new connection after the idle timeout")
        }
    }

    @Test("through tt-proxy too, a Login request after the server's idle timeout reconnects transparently")
    func loginReconnectsThroughProxyAfterIdleTimeout() async throws {
        var limits = ProtocolLimits.default
        limits.idleTimeout = .milliseconds(300)
        try await withStarted(TestServer.start(users: ["fred": "pw"], limits: limits)) { server in
            try await withStarted(TestProxy.start()) { proxy in
                let config = ClientConfiguration(
                    server: Endpoint(host: server.host, port: server.port),
                    route: .proxy(
                        HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: proxy.port)),
                        HTTPProxyOptions()
                    ),
                    identity: .acceptAny,
                    connectTimeout: .seconds(5),
                    requestTimeout: .seconds(5)
                )
                let (rc, count) = try await runBlocking { () throws -> (ReturnCode, Int) in
                    let client = FrameworkClient(configuration: config, trace: .disabled)
                    try client.ping()
                    // Counted from here: the idle timeout can end the first session before the Ping under load.
                    let connections = client.connectionCount
                    // tt-proxy passes the close on to the client's connection.
                    waitForIdleClose(server, clientConnectsTo: proxy.port)
                    return (try client.send(Self.loginRequest).rc, client.connectionCount - connections)
                }
                #expect(rc == .requestOK)
                #expect(count == 1, "one new connection after the idle timeout")
            }
        }
    }

    @Test("a request too large for one frame is a usage error and leaves the session usable")
    func oversizedRequest() async throws {
        try await withStarted(TestServer.start()) { server in
            var limits = ProtocolLimits.default
            limits.maxFrameSize = 4096
            let config = ClientConfiguration(
                server: Endpoint(host: server.host, port: server.port),
                identity: .acceptAny,
                connectTimeout: .seconds(5),
                limits: limits
            )
            let (failure, pingAfter) = try await runBlocking { () throws -> (FrameworkClientError?, ReturnCode) in
                let client = FrameworkClient(configuration: config, trace: .disabled)
                try client.connect()
                // Random bytes do not compress: the frame would exceed 4 KiB.
                let payload = (0..<64 * 1024).map { _ in UInt8.random(in: 0...255) }
                var caught: FrameworkClientError?
                do {
                    _ = try client.send(RequestPacket(function: .echo, payload: payload))
                } catch let error as FrameworkClientError { caught = error }
                return (caught, try client.ping().rc)
            }
            let error = try #require(failure)
            #expect(error.category == .usage)
            #expect(error.message.contains("cannot be sent"))
            #expect(pingAfter == .requestOK)
        }
    }
}

@Suite("Exit codes")
struct ExitCodeMappingTests {
    @Test(
        "every transport failure category maps to the exit code of the table in docs/CLI.md",
        arguments: [
            (TransportError.Category.configuration, Int32(2)),
            (.proxyUnreachable, 3),
            (.proxyAuthenticationRequired, 4),
            (.proxyRefused, 5),
            (.proxyGatewayFailure, 6),
            (.proxyProtocolViolation, 7),
            (.serverUnreachable, 8),
            (.connectionClosed, 8),
            (.timedOut, 12),
            (.internalError, 1),
        ]
    )
    func transportCategories(category: TransportError.Category, exitCode: Int32) {
        let error = TransportError(stage: .proxyTunnel, category: category, message: "m")
        #expect(FrameworkClientError(error).category.exitCode == exitCode)
    }
}
