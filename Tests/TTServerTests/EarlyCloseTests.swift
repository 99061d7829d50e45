import Foundation
import TTBasics
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// The framework port's closes before a session runs, seen by a client that sent more than the server reads:
    /// closing with unread bytes makes Linux send a reset instead of a FIN, and a reset may destroy what the
    /// client has not read yet. Whatever the server answers must arrive whole, then the end of stream; a
    /// connection refused before anything is read gets nothing and holds nothing.
    @Suite("Early closes of the framework port")
    struct EarlyCloseTests {
        /// More than one read of the server takes in: the rest is still unread when it decides to close.
        static let filler = [UInt8](repeating: 0x55, count: 32 << 10)
        /// A TLS handshake record holding a ServerHello where a ClientHello must be.
        static let unexpectedTLSMessage: [UInt8] =
            [0x16, 0x03, 0x01, 0x00, 0x08] + [0x02, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00]
        /// The fatal `unexpected_message` alert the server's TLS answers it with.
        static let unexpectedMessageAlert: [UInt8] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x0A]

        @Test("A TLS handshake refused with an alert: a client that sent more gets the alert whole, then end of stream")
        func failedTLSHandshake() async throws {
            let tls = try selfSignedTLSContext()
            try await withTestServer(configure: { $0.tls = tls }) { server in
                let peer = try await PipeliningPeer.connect(port: server.port)
                defer { peer.close() }
                try await peer.send(Self.unexpectedTLSMessage + Self.filler)
                // A reset here (the server closing with the filler unread) may destroy the alert before it is read.
                #expect(try await peer.readToEnd() == .init(received: Self.unexpectedMessageAlert, end: .endOfStream))
                #expect(await waitUntil { server.server.sessionCount == 0 })
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).isEmpty })
                let client = try await TestClient.connect(to: server)
                #expect(try await client.ping().rc == .requestOK)
                await client.close()
            }
        }

        @Test(
            "Refusals after the first bytes (no PROXY header, not a framework client) end in end of stream, no reset",
            arguments: [("PROXY header missing", true), ("HTTP request", false)]
        )
        func refusedBeforeTheHandshake(kind: String, proxyProtocol: Bool) async throws {
            let logs = LogCapture()
            try await withTestServer(logs: logs, configure: { $0.acceptsProxyProtocol = proxyProtocol }) { server in
                let peer = try await PipeliningPeer.connect(port: server.port)
                defer { peer.close() }
                let first = proxyProtocol ? ClientHandshake().hello : Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                try await peer.send(first + Self.filler)
                #expect(try await peer.readToEnd() == .init(received: [], end: .endOfStream), "\(kind)")
                let reason = proxyProtocol ? "expected a PROXY protocol header" : "magic"
                #expect(await logs.waitForCloseReason(containing: reason) != nil, "\(logs.closeReasons)")
                #expect(await waitUntil { server.server.sessionCount == 0 })
            }
        }

        @Test("An oversized frame right behind the hello: the server hello arrives whole, then end of stream")
        func oversizedFrameBehindTheHello() async throws {
            let logs = LogCapture()
            try await withTestServer(logs: logs) { server in
                let peer = try await PipeliningPeer.connect(port: server.port)
                defer { peer.close() }
                let handshake = ClientHandshake()
                try await peer.send(handshake.hello + [0x7F, 0xFF, 0xFF, 0xFF] + Self.filler)
                let outcome = try await peer.readToEnd()
                #expect(outcome.end == .endOfStream)
                #expect(outcome.received.count == Handshake.serverHelloSize)
                _ = try handshake.finish(serverHello: outcome.received)
                #expect(await logs.waitForCloseReason(containing: "frame") != nil, "\(logs.closeReasons)")
            }
        }

        @Test("Connections refused at accept (over the cap, untrusted PROXY peer) get nothing and do not linger")
        func refusedAtAccept() async throws {
            let configure: @Sendable (inout ServerConfiguration) -> Void = {
                $0.acceptsProxyProtocol = true
                $0.proxyProtocolSources = [IPNetwork("127.0.0.1/32")!]
                // Far longer than the test waits: a refusal that lingered would still hold its socket.
                $0.closeLingerTimeout = .seconds(120)
            }
            try await withTestServer(limits: ProtocolLimits(maxConnections: 1), configure: configure) { server in
                let untrusted = try await PipeliningPeer.connect(port: server.port, from: "127.0.0.2")
                defer { untrusted.close() }
                // The server may have closed before this write lands; what the peer then reads is what matters.
                try? await untrusted.send(Array("PROXY TCP4 203.0.113.6 127.0.0.1 4242 5000\r\n".utf8) + Self.filler)
                let refused = try await untrusted.readToEnd()
                #expect(refused.received.isEmpty && refused.end != .timedOut, "\(refused)")
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).isEmpty })

                let held = try await TestClient.connect(to: server, from: "198.51.100.1")
                let overCap = try await PipeliningPeer.connect(port: server.port)
                defer { overCap.close() }
                try? await overCap.send(ClientHandshake().hello + Self.filler)
                let closed = try await overCap.readToEnd()
                #expect(closed.received.isEmpty && closed.end != .timedOut, "\(closed)")
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).count == 1 })
                #expect(server.server.sessionCount == 1)
                #expect(try await held.ping().rc == .requestOK)
                await held.close()
            }
        }

        @Test(
            "A flood of failed TLS handshakes that never close holds at most max-connections sockets, each until the linger ends"
        )
        func floodOfFailedHandshakes() async throws {
            let tls = try selfSignedTLSContext()
            let cap = 8
            try await withTestServer(
                limits: ProtocolLimits(maxConnections: cap),
                configure: {
                    $0.tls = tls
                    $0.closeLingerTimeout = .seconds(3)
                }
            ) { server in
                let started = ContinuousClock.now
                var peers: [PipeliningPeer] = []
                defer { for peer in peers { peer.close() } }
                // Each sends a refused handshake and more, then neither reads nor closes: the linger's time bound
                // alone ends the admitted ones; the others are over the cap and closed at once.
                for _ in 0..<40 {
                    let peer = try await PipeliningPeer.connect(port: server.port)
                    peers.append(peer)
                    // Those over the cap may be closed before their write lands.
                    try? await peer.send(Self.unexpectedTLSMessage + Self.filler)
                }
                // A connection over the cap holds its socket only until it is closed, at once; the admitted ones
                // linger. From here on, well inside the 3 s linger, only those may be held.
                try await Task.sleep(for: .milliseconds(300))
                var peak = 0
                // Sampled every 20 ms until every socket is released, at most 15 s.
                for _ in 0..<750 {
                    let open = acceptedSocketsOfThisProcess(onPort: server.port).count
                    peak = max(peak, open)
                    if open == 0, server.server.sessionCount == 0 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let released = ContinuousClock.now - started
                #expect(peak > 0 && peak <= cap, "peak \(peak)")
                #expect(server.server.sessionCount == 0)
                // The admitted ones lingered (a close at once takes milliseconds), for about the 3 s bound.
                #expect(released >= .milliseconds(2700), "\(released)")
                #expect(released < .seconds(13), "\(released)")
                let client = try await TestClient.connect(to: server)
                #expect(try await client.ping().rc == .requestOK)
                await client.close()
            }
        }

        @Test("A failed TLS handshake whose peer goes on sending is cut off at the linger's byte bound")
        func failedTLSHandshakeByteBound() async throws {
            let tls = try selfSignedTLSContext()
            try await withTestServer(configure: {
                $0.tls = tls
                // Far longer than the test waits: only the byte bound can end this linger in time.
                $0.closeLingerTimeout = .seconds(120)
                $0.closeLingerMaxBytes = 64 << 10
            }) { server in
                let peer = try await PipeliningPeer.connect(port: server.port)
                defer { peer.close() }
                try await peer.send(Self.unexpectedTLSMessage)
                // 2 MiB in 64 KiB writes, far past the bound; the writes fail once the server has closed.
                for _ in 0..<32 {
                    guard (try? await peer.send(Self.filler + Self.filler)) != nil else { break }
                }
                #expect(await waitUntil(timeout: .seconds(15)) { server.server.sessionCount == 0 })
                #expect(await waitUntil { acceptedSocketsOfThisProcess(onPort: server.port).isEmpty })
            }
        }
    }
}

/// A client on a blocking socket that sends whatever it is told, at once, and reads only when asked: it can
/// tell an end of stream from a reset, which a NIO channel reports alike.
final class PipeliningPeer: Sendable {
    /// How a connection ended for it: what it received, then an end of stream or a reset.
    struct Outcome: Equatable, CustomStringConvertible {
        enum End: Equatable {
            case endOfStream
            case reset
            case timedOut
            case failed(Int32)
        }

        var received: [UInt8]
        var end: End

        var description: String {
            "\(received.count) bytes \(PrintableBytes.quoted(received, limit: 32)), then \(end)"
        }
    }

    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Connects to `127.0.0.1:port`, from `localAddress` when given; every send and read waits at most `timeout`.
    static func connect(port: Int, from localAddress: String? = nil, timeout: Int = 15) async throws -> PipeliningPeer {
        try await runBlocking {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw PipeliningPeerError(step: "socket", code: errno) }
            var wait = timeval(tv_sec: timeout, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            if let localAddress, !Self.call(fd, address: localAddress, port: 0, { bind($0, $1, $2) }) {
                defer { Foundation.close(fd) }
                throw PipeliningPeerError(step: "bind", code: errno)
            }
            guard Self.call(fd, address: "127.0.0.1", port: port, { Foundation.connect($0, $1, $2) }) else {
                defer { Foundation.close(fd) }
                throw PipeliningPeerError(step: "connect", code: errno)
            }
            return PipeliningPeer(descriptor: fd)
        }
    }

    /// Sends all of `bytes` in one write.
    /// - Throws: ``PipeliningPeerError`` when the connection is closed (the server may have refused it first).
    func send(_ bytes: [UInt8]) async throws {
        let fd = descriptor
        try await runBlocking {
            let sent = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == bytes.count else { throw PipeliningPeerError(step: "send", code: sent < 0 ? errno : 0) }
        }
    }

    /// Waits `readAfter` (the server decides meanwhile, the bytes sent unread), then reads until the end of
    /// stream, a reset or the timeout; at most 1 MiB.
    func readToEnd(after readAfter: Duration = .milliseconds(300)) async throws -> Outcome {
        let fd = descriptor
        return try await runBlocking {
            let (seconds, attoseconds) = readAfter.components
            usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while received.count < 1 << 20 {
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    received += chunk.prefix(count)
                    continue
                }
                let code = errno
                switch count == 0 ? 0 : code {
                case 0: return Outcome(received: received, end: .endOfStream)
                case EINTR: continue
                case ECONNRESET: return Outcome(received: received, end: .reset)
                case EAGAIN, EWOULDBLOCK: return Outcome(received: received, end: .timedOut)
                default: return Outcome(received: received, end: .failed(code))
                }
            }
            return Outcome(received: received, end: .timedOut)
        }
    }

    func close() {
        Foundation.close(descriptor)
    }

    private static func call(
        _ fd: Int32,
        address: String,
        port: Int,
        _ operation: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) -> Bool {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
        socketAddress.sin_addr.s_addr = inet_addr(address)
        return withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                operation(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

struct PipeliningPeerError: Error {
    let step: String
    let code: Int32
}
