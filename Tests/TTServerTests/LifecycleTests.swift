import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TTProtocol
import TTServer
import TTTestSupport
import Testing

@Suite("Lifecycle")
struct LifecycleTests {
    @Test("Shutdown answers the request in flight, closes every session and stops accepting")
    func gracefulShutdown() async throws {
        // A grace period far beyond the bound below: the shutdown must end because the answer went out, not
        // because the grace period ran out (generous numbers, the machine may be loaded).
        // The stop under test is inside; withStarted stops it again (a no-op) when something throws first.
        try await withStarted(
            TestServer.start(users: ["alice": "secret"]) {
                $0.failedLoginDelay = .milliseconds(600)
                $0.shutdownGracePeriod = .seconds(60)
            }
        ) { server in
            let idle = try await TestClient.connect(to: server)
            let busy = try await TestClient.connect(to: server)
            let payload = try LoginPayload(user: "alice", password: "wrong").serialize()
            try await busy.connection.send(
                busy.codec.encode(.request(RequestPacket(function: .login, payload: payload)))
            )
            try await Task.sleep(for: .milliseconds(150))
            let started = ContinuousClock.now
            async let stopped: Void = server.stop()
            #expect(try await busy.receiveResponse().rc == .loginRejected)
            try await busy.connection.expectClosed()
            try await idle.connection.expectClosed()
            await stopped
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(server.server.sessionCount == 0)
            await #expect(throws: (any Error).self) {
                try await RawConnection.connect(host: server.host, port: server.port)
            }
        }
    }

    @Test("When the grace period ends, sessions still busy are closed")
    func gracePeriodEnds() async throws {
        try await withStarted(
            TestServer.start(users: ["alice": "secret"]) {
                // The answer would come after 120 s; the grace period of 300 ms must cut it short.
                $0.failedLoginDelay = .seconds(120)
                $0.shutdownGracePeriod = .milliseconds(300)
            }
        ) { server in
            let busy = try await TestClient.connect(to: server)
            let payload = try LoginPayload(user: "alice", password: "wrong").serialize()
            try await busy.connection.send(
                busy.codec.encode(.request(RequestPacket(function: .login, payload: payload)))
            )
            try await Task.sleep(for: .milliseconds(100))
            let started = ContinuousClock.now
            await server.stop()
            #expect(ContinuousClock.now - started < .seconds(40))
            try await busy.connection.expectClosed()
        }
    }

    @Test("run() returns after shutdown, and cancelling it shuts the server down")
    func runAndCancel() async throws {
        let identity = ServerIdentity.generate()
        let server = FrameworkServer(
            configuration: ServerConfiguration(
                listenAddresses: [ListenAddress(host: "127.0.0.1", port: 0)],
                identity: identity
            )
        )
        let running = Task { try await server.run() }
        try await withShutdown(server) {
            await waitUntil { !server.boundAddresses.isEmpty }
            let port = try #require(server.boundAddresses.first?.port)
            let client = try await TestClient.connect(host: "127.0.0.1", port: port)
            #expect(try await client.ping().rc == .requestOK)
            running.cancel()
            try await running.value
            try await client.connection.expectClosed()
            #expect(server.boundAddresses.isEmpty)
        }
    }

    @Test("One server listens on IPv4 and IPv6 at once")
    func severalListeners() async throws {
        let server = FrameworkServer(
            configuration: ServerConfiguration(
                listenAddresses: [ListenAddress(host: "127.0.0.1", port: 0), ListenAddress(host: "::1", port: 0)],
                identity: ServerIdentity.generate()
            )
        )
        try await withShutdown(server) {
            let addresses = try await server.start()
            #expect(addresses.count == 2)
            for address in addresses {
                let client = try await TestClient.connect(
                    host: try #require(address.ipAddress),
                    port: try #require(address.port)
                )
                #expect(try await client.ping().rc == .requestOK)
                await client.close()
            }
        }
    }

    @Test("A port already in use fails start() with the address named, leaving nothing bound")
    func portInUse() async throws {
        try await withTestServer { existing in
            let server = FrameworkServer(
                configuration: ServerConfiguration(
                    listenAddresses: [
                        ListenAddress(host: "127.0.0.1", port: 0),
                        ListenAddress(host: "127.0.0.1", port: existing.port),
                    ],
                    identity: ServerIdentity.generate()
                )
            )
            let error = await #expect(throws: FrameworkServerError.self) { try await server.start() }
            #expect(error?.description.contains("cannot listen on 127.0.0.1:\(existing.port)") == true)
            #expect(server.boundAddresses.isEmpty)
            // tt-server calls shutdown() after a failed start: it must return, not wait for a stop that already
            // happened (it hung, and tt-server with it, when the port was in use).
            let returned = ReturnFlag()
            let finishing = Task {
                await server.shutdown()
                try? await server.run()
                returned.value.store(true, ordering: .sequentiallyConsistent)
            }
            await waitUntil(timeout: .seconds(20)) { returned.isSet }
            #expect(returned.isSet, "shutdown() or run() after a failed start() hung")
            finishing.cancel()
        }
    }

    @Test("A shutdown while start() is binding leaves no listener behind")
    func shutdownDuringStart() async throws {
        for iteration in 0..<30 {
            let ports = try await Self.freePorts(count: 3)
            let server = FrameworkServer(
                configuration: ServerConfiguration(
                    listenAddresses: ports.map { ListenAddress(host: "127.0.0.1", port: $0) },
                    identity: ServerIdentity.generate()
                )
            )
            let starting = Task { try await server.start() }
            // Vary where the shutdown lands: before, during and after the binding.
            for _ in 0..<(iteration % 6) { await Task.yield() }
            if iteration % 3 == 2 { try await Task.sleep(for: .microseconds(200 * (iteration % 7))) }
            await server.shutdown()
            let outcome: String
            do {
                _ = try await starting.value
                outcome = "started"
            } catch let error as FrameworkServerError {
                outcome = error.description
            }
            #expect(server.boundAddresses.isEmpty)
            for port in ports {
                await #expect(throws: (any Error).self, "port \(port) still listening after \(outcome)") {
                    let connection = try await RawConnection.connect(host: "127.0.0.1", port: port)
                    await connection.close()
                }
            }
        }
    }

    /// Runs `body` and shuts `server` down afterwards, awaited, whether `body` returns or throws (a failed
    /// `#require` must not leave a server listening). Shutting down twice is harmless.
    private func withShutdown<Result>(
        _ server: FrameworkServer,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        do {
            let result = try await body()
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    /// Ports the kernel just handed out and released again, for tests that must know a port before binding.
    private static func freePorts(count: Int) async throws -> [Int] {
        var channels: [any Channel] = []
        for _ in 0..<count {
            channels.append(
                try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .bind(host: "127.0.0.1", port: 0).get()
            )
        }
        let ports = channels.compactMap(\.localAddress?.port)
        for channel in channels { try await channel.close() }
        return ports
    }

    @Test("Starting a server twice is refused")
    func startTwice() async throws {
        try await withTestServer { server in
            await #expect(throws: FrameworkServerError.self) { try await server.server.start() }
        }
    }
}

/// Set once a task has returned, polled by the test that waits for it.
private final class ReturnFlag: Sendable {
    let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
