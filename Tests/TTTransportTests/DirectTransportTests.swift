import Foundation
import TTTestSupport
import TTTransport
import Testing

@Suite("Direct transport")
struct DirectTransportTests {
    @Test("connects to a loopback server and round-trips bytes, with half-close")
    func roundTrip() async throws {
        try await withStarted(EchoServer.start(greeting: Array("hello\n".utf8))) { echo in
            let port = echo.port
            let (greeting, echoed, end, report) = try await onThread {
                let transport = try DirectTransport.open(
                    Endpoint(host: "127.0.0.1", port: port),
                    deadline: .after(.seconds(5))
                )
                defer { transport.close() }
                let greeting = try transport.receiveExactly(6, deadline: .after(.seconds(5)))
                try transport.sendAll(Array("ping".utf8), deadline: .after(.seconds(5)))
                let echoed = try transport.receiveExactly(4, deadline: .after(.seconds(5)))
                try transport.shutdownWrite()
                let end = try transport.receiveSome(maxCount: 16, deadline: .after(.seconds(5)))
                return (greeting, echoed, end, transport.report)
            }
            #expect(greeting == Array("hello\n".utf8))
            #expect(echoed == Array("ping".utf8))
            #expect(end.isEmpty, "the server closes after our half-close")
            #expect(report.connectedAddress == "127.0.0.1:\(port)")
            #expect(report.proxy == nil)
        }
    }

    @Test("connects to an IPv6 loopback server")
    func ipv6() async throws {
        try await withStarted(EchoServer.start(host: "::1")) { echo in
            let port = echo.port
            let echoed = try await onThread {
                let transport = try DirectTransport.open(
                    Endpoint(host: "::1", port: port),
                    deadline: .after(.seconds(5))
                )
                try transport.sendAll([1, 2, 3], deadline: .after(.seconds(5)))
                return try transport.receiveExactly(3, deadline: .after(.seconds(5)))
            }
            #expect(echoed == [1, 2, 3])
        }
    }

    @Test("a refused connection is serverUnreachable and names host:port")
    func refused() async throws {
        let closed = try ClosedPort()
        let port = closed.port
        let error = try await transportFailure {
            _ = try DirectTransport.open(Endpoint(host: "127.0.0.1", port: port), deadline: .after(.seconds(5)))
        }
        #expect(error.category == .serverUnreachable)
        #expect(error.stage == .serverConnect)
        #expect(error.category == .serverUnreachable)
        #expect(error.message.contains("127.0.0.1:\(port) refused the connection"), "\(error)")
    }

    @Test("a name that does not resolve is serverUnreachable and names the host")
    func unresolvable() async throws {
        let error = try await transportFailure {
            _ = try DirectTransport.open(
                Endpoint(host: "no-such-host.invalid", port: 5000),
                deadline: .after(.seconds(5))
            )
        }
        #expect(error.category == .serverUnreachable)
        #expect(
            error.message.contains(
                "cannot resolve the server name \"no-such-host.invalid\" (no-such-host.invalid:5000)"
            ),
            "\(error)"
        )
    }

    @Test("a server that never answers the TCP handshake times out at the deadline")
    func timeout() async throws {
        let blackhole = try FullBacklogListener()
        let port = blackhole.port
        let (error, elapsed) = try await timedTransportFailure {
            _ = try DirectTransport.open(Endpoint(host: "127.0.0.1", port: port), deadline: .after(.milliseconds(300)))
        }
        withExtendedLifetime(blackhole) {}
        #expect(error.category == .timedOut)
        #expect(error.stage == .serverConnect)
        #expect(error.category == .timedOut)
        #expect(error.message.contains("127.0.0.1:\(port) timed out"), "\(error)")
        #expect(elapsed >= .milliseconds(290) && elapsed < .seconds(10))
    }

    @Test("receiving past the deadline is timedOut at the i/o stage")
    func receiveTimeout() async throws {
        try await withStarted(EchoServer.start()) { echo in
            let port = echo.port
            let error = try await transportFailure {
                let transport = try DirectTransport.open(
                    Endpoint(host: "127.0.0.1", port: port),
                    deadline: .after(.seconds(5))
                )
                _ = try transport.receiveExactly(1, deadline: .after(.milliseconds(100)))
            }
            #expect(error.category == .timedOut)
            #expect(error.stage == .io)
        }
    }
}
