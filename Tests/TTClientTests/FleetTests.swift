import Foundation
import Synchronization
import TTClient
import TTProtocol
import TTServer
import TTTestSupport
import TTTransport
import Testing

/// A `tt-server` process of a fleet: `--proxy-protocol` behind HAProxy, an admin listener for its health check.
private struct FleetServer {
    let process: RunningProcess
    let port: Int
    let adminPort: Int

    static func start(identity: String, users: String) async throws -> FleetServer {
        let process = try RunningProcess(
            BuiltProducts.executable("tt-server"),
            [
                "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--identity", identity, "--users", users,
                "--proxy-protocol", "--shutdown-grace", "10",
            ]
        )
        do {
            let port = try await Self.port(after: "tt-server listening on 127.0.0.1:", in: process)
            let adminPort = try await Self.port(after: "tt-server admin listening on 127.0.0.1:", in: process)
            return FleetServer(process: process, port: port, adminPort: adminPort)
        } catch {
            await process.stop()
            throw error
        }
    }

    private static func port(after prefix: String, in process: RunningProcess) async throws -> Int {
        try await process.waitForOutput(containing: prefix)
        let line = try #require(process.outputSoFar.split(separator: "\n").first { $0.hasPrefix(prefix) })
        return try #require(Int(line.split(separator: ":").last ?? ""))
    }

    var backend: RealHAProxy.Backend { RealHAProxy.Backend(port: port, adminPort: adminPort) }
}

/// Shared by the load clients and the test: progress, and whether the backend has been stopped.
private final class LoadProgress: Sendable {
    let completed = Atomic<Int>(0)
    let stopped = Atomic<Bool>(false)
}

/// A socket step of the test failed.
private struct FleetTestError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}

/// What one load client saw.
private struct LoadTally: Sendable {
    var idempotentOK = 0
    var idempotentFailures: [String] = []
    var nonIdempotentOK = 0
    var mayHaveRun = 0
    var nonIdempotentOtherFailures: [String] = []
    var afterStop = 0
}

@Suite("A fleet of tt-servers behind HAProxy", .serialized)
struct FleetTests {
    @Test(
        "HAProxy send-proxy-v2 over two tt-servers: one is stopped under load and the clients carry on on the other",
        .enabled(if: RealHAProxy.testsEnabled, "haproxy is not installed (scripts/install-deps installs it)"),
        .timeLimit(.minutes(3))
    )
    func backendStoppedUnderLoad() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-fleet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // One identity file for the whole fleet: clients pin one key, whichever server answers.
        let identityPath = directory.appendingPathComponent("identity.pem").path
        let identity = ServerIdentity.generate()
        try identity.write(toPath: identityPath)
        let usersPath = directory.appendingPathComponent("users").path
        try UserDirectory.addUser("fleet", password: "fleet-pw", toFileAt: usersPath, iterations: 1_000)

        let first = try await FleetServer.start(identity: identityPath, users: usersPath)
        try await withStarted(first.process) { _ in
            let second = try await FleetServer.start(identity: identityPath, users: usersPath)
            try await withStarted(second.process) { _ in
                try await withStarted(RealHAProxy.start(backends: [first.backend, second.backend])) { haproxy in
                    try await realClientAddressIsLogged(haproxy: haproxy, servers: [first, second], identity: identity)
                    try await runLoad(haproxy: haproxy, stopping: first, surviving: second, identity: identity)
                }
            }
        }
    }

    /// A connection from 127.0.0.2 through HAProxy: the server logs 127.0.0.2 as the peer, HAProxy as `via`.
    private func realClientAddressIsLogged(
        haproxy: RealHAProxy,
        servers: [FleetServer],
        identity: ServerIdentity
    ) async throws {
        let port = haproxy.port
        let seen = try await runBlocking { () throws -> IdentityFingerprint in
            let descriptor = try connectFrom("127.0.0.2", toPort: port)
            defer { close(descriptor) }
            let handshake = ClientHandshake()
            try sendAll(descriptor, handshake.hello)
            let serverHello = try receiveExactly(descriptor, Handshake.serverHelloSize)
            let (_, key) = try handshake.finish(serverHello: serverHello)
            // A frame that does not open: the server closes the session and logs why, with the peer.
            try sendAll(descriptor, [0, 0, 0, 32] + [UInt8](repeating: 0, count: 32))
            return key.fingerprint
        }
        #expect(seen == identity.fingerprint)
        let deadline = ContinuousClock.now + .seconds(20)
        var line: Substring?
        while line == nil, ContinuousClock.now < deadline {
            line = servers.lazy.flatMap { $0.process.outputSoFar.split(separator: "\n") }
                .first { $0.contains("session closed") && $0.contains("peer=127.0.0.2:") }
            if line == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let logged = try #require(line, "no server logged the session from 127.0.0.2")
        #expect(logged.contains("via=127.0.0.1:"))
    }

    private func runLoad(
        haproxy: RealHAProxy,
        stopping: FleetServer,
        surviving: FleetServer,
        identity: ServerIdentity
    ) async throws {
        let clients = 4
        // At most this many turns each; a client ends 20 turns after it saw the stop.
        let iterations = 2_000
        let progress = LoadProgress()
        let configuration = ClientConfiguration(
            server: Endpoint(host: "127.0.0.1", port: haproxy.port),
            credentials: Credentials(user: "fleet", password: "fleet-pw"),
            identity: .pinned(identity.fingerprint),
            connectTimeout: .seconds(10),
            requestTimeout: .seconds(30),
            reconnect: ReconnectPolicy(maxReconnects: 3)
        )
        let tallies = try await withThrowingTaskGroup(of: LoadTally.self) { group in
            for index in 0..<clients {
                group.addTask {
                    try await runBlocking {
                        runClient(
                            index: index,
                            configuration: configuration,
                            iterations: iterations,
                            progress: progress
                        )
                    }
                }
            }
            // Stop one backend once the load is under way, with sessions on it.
            let deadline = ContinuousClock.now + .seconds(60)
            while progress.completed.load(ordering: .relaxed) < clients * 25, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let metrics = try await httpGet(port: stopping.adminPort, path: "/metrics").body
            #expect((metricValue(metrics, "tt_sessions_open") ?? 0) >= 1, "no session on the stopped backend")
            progress.stopped.store(true, ordering: .relaxed)
            #expect(await stopping.process.stop(signal: SIGTERM, timeout: .seconds(30)) == 0)
            var all: [LoadTally] = []
            for try await tally in group { all.append(tally) }
            return all
        }
        for (index, tally) in tallies.enumerated() {
            #expect(tally.idempotentFailures.isEmpty, "client \(index): \(tally.idempotentFailures)")
            #expect(tally.nonIdempotentOtherFailures.isEmpty, "client \(index): \(tally.nonIdempotentOtherFailures)")
            #expect(tally.afterStop > 0, "client \(index) did nothing after the stop")
            #expect(tally.idempotentOK > 0 && tally.nonIdempotentOK > 0)
        }
        // Everything after the stop ran on the survivor.
        let survivor = try await httpGet(port: surviving.adminPort, path: "/metrics").body
        #expect((metricValue(survivor, #"tt_requests_total{function="Ping",rc="0"}"#) ?? 0) > 0)
        #expect(surviving.process.isRunning)
    }
}

/// One client's loop: Ping and Echo (idempotent), and every 8th turn a Logout (not idempotent) after which the
/// client closes, so the next turn reconnects and logs in again. Ends 20 turns after the backend was stopped;
/// bounded by `iterations` and by time.
private func runClient(
    index: Int,
    configuration: ClientConfiguration,
    iterations: Int,
    progress: LoadProgress
) -> LoadTally {
    var tally = LoadTally()
    let client = FrameworkClient(configuration: configuration, trace: .disabled)
    defer { client.close() }
    let deadline = ContinuousClock.now + .seconds(90)
    let payload = Array("fleet \(index)".utf8)
    for turn in 0..<iterations where ContinuousClock.now < deadline && tally.afterStop < 20 {
        let afterStop = progress.stopped.load(ordering: .relaxed)
        do {
            let ping = try client.ping()
            let echo = try client.send(RequestPacket(function: .echo, payload: payload))
            if ping.rc == .requestOK && echo.rc == .requestOK && echo.payload == payload {
                tally.idempotentOK += 1
            } else {
                tally.idempotentFailures.append("Ping \(ping.rc), Echo \(echo.rc)")
            }
        } catch {
            tally.idempotentFailures.append("\(error.category): \(error.message)")
        }
        if turn % 8 == 7 {
            do {
                let answer = try client.send(RequestPacket(function: .logout))
                if answer.rc == .requestOK {
                    tally.nonIdempotentOK += 1
                } else {
                    tally.nonIdempotentOtherFailures.append("Logout \(answer.rc)")
                }
            } catch  where error.category == .outcomeUnknown {
                tally.mayHaveRun += 1
            } catch {
                tally.nonIdempotentOtherFailures.append("\(error.category): \(error.message)")
            }
            client.close()
        }
        if afterStop { tally.afterStop += 1 }
        progress.completed.add(1, ordering: .relaxed)
        Thread.sleep(forTimeInterval: 0.01)
    }
    return tally
}

/// A blocking TCP connection from `source` (a 127.x address) to 127.0.0.1:`port`.
private func connectFrom(_ source: String, toPort port: Int) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw FleetTestError("socket: errno \(errno)") }
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    func address(_ host: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }
    var local = address(source, 0)
    var remote = address("127.0.0.1", port)
    let size = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, size) }
    }
    let connected = withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, size) }
    }
    guard bound == 0, connected == 0 else {
        close(descriptor)
        throw FleetTestError("connect from \(source) to 127.0.0.1:\(port): errno \(errno)")
    }
    return descriptor
}

private func sendAll(_ descriptor: Int32, _ bytes: [UInt8]) throws {
    guard send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
        throw FleetTestError("send: errno \(errno)")
    }
}

private func receiveExactly(_ descriptor: Int32, _ count: Int) throws -> [UInt8] {
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: count)
    while received.count < count {
        let got = recv(descriptor, &chunk, count - received.count, 0)
        guard got > 0 else { throw FleetTestError("recv: \(got), errno \(errno)") }
        received += chunk[0..<got]
    }
    return received
}

/// The value of the sample `series` in a Prometheus text page.
private func metricValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}
