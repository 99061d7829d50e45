import Foundation
import TTTestSupport
import Testing

/// Finding 13 of issue 13: `forward` relays had no idle timeout, and 64 idle clients blocked every other one.
@Suite("tt-connect forward: idle clients time out and cannot hold the service", .serialized)
struct ForwardIdleTests {
    /// Starts `tt-connect forward` to `echo` with `arguments`, runs `body` with its port, then stops it.
    private func withForward(
        to echo: EchoServer,
        _ arguments: [String],
        _ body: (Int) async throws -> Void
    ) async throws {
        let home = try TemporaryDirectory()
        let forward = try RunningProcess(
            BuiltProducts.executable("tt-connect"),
            ["forward", "--listen", "127.0.0.1:0"] + arguments + ["127.0.0.1:\(echo.port)"],
            environment: ["HOME": home.path, "NO_PROXY": "", "no_proxy": ""]
        )
        try await withStarted(forward) { forward in
            try await forward.waitForOutput(containing: "listening on 127.0.0.1:")
            let port = try #require(
                try lineValue(forward.outputSoFar, after: "listening on 127.0.0.1:").flatMap { Int($0) }
            )
            try await body(port)
        }
    }

    @Test("a client that sends nothing is closed after --idle-timeout")
    func idleTimeout() async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withForward(to: echo, ["--idle-timeout", "1"]) { port in
                let (closed, elapsed) = try await runBlocking { () throws -> (Bool, Duration) in
                    let client = try BlockingClient(port: port, readTimeout: .seconds(20))
                    let started = ContinuousClock.now
                    let bytes = try client.read()
                    return (bytes.isEmpty, ContinuousClock.now - started)
                }
                #expect(closed)
                #expect(elapsed < .seconds(15), "closed after \(elapsed)")
            }
        }
    }

    @Test("with every slot held by an idle client, a new client is still served (the idlest is closed)")
    func idleClientsDoNotBlock() async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withForward(to: echo, ["--max-connections", "2"]) { port in
                let echoed = try await runBlocking { () throws -> [UInt8] in
                    let idle = try (0..<2).map { _ in try BlockingClient(port: port, readTimeout: .seconds(30)) }
                    // Both idle relays are up: each answers an echo, then goes quiet.
                    for client in idle {
                        try client.write(Array("x".utf8))
                        _ = try client.read()
                    }
                    let late = try BlockingClient(port: port, readTimeout: .seconds(30))
                    try late.write(Array("hello".utf8))
                    let answer = try late.read()
                    withExtendedLifetime(idle) {}
                    return answer
                }
                #expect(echoed == Array("hello".utf8))
            }
        }
    }
}

/// A blocking TCP client of 127.0.0.1 with a read timeout.
private final class BlockingClient {
    private let descriptor: Int32

    init(port: Int, readTimeout: Duration) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            // deinit closes the descriptor (it is set, so a throw runs deinit); closing it here too would close a
            // descriptor another test opened under the same number meanwhile.
            throw E2EError("connect to 127.0.0.1:\(port) failed")
        }
        var timeout = timeval(tv_sec: Int(readTimeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func write(_ bytes: [UInt8]) throws {
        guard send(descriptor, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw E2EError("send failed")
        }
    }

    /// What one read brings; empty at end of stream.
    /// - Throws: when nothing came within the read timeout (or the connection was reset).
    func read() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count < 0 {
            if errno == ECONNRESET { return [] }
            throw E2EError("no data within the read timeout (errno \(errno))")
        }
        return Array(buffer[0..<count])
    }
}
