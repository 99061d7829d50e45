import Foundation
import TTBasics
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// PROBE: how each early close of the framework port ends for a peer that pipelined more than the server reads.
    @Suite("Early closes (probe)")
    struct EarlyCloseProbe {
        static let filler = [UInt8](repeating: 0x55, count: 32 << 10)

        @Test("probe: admission over the cap")
        func overCap() async throws {
            try await withTestServer(limits: ProtocolLimits(maxConnections: 1)) { server in
                let held = try await TestClient.connect(to: server)
                let outcome = try await pipelinedExchange(port: server.port, send: ClientHandshake().hello + Self.filler)
                print("PROBE overCap: \(outcome)")
                await held.close()
            }
        }

        @Test("probe: untrusted PROXY peer")
        func untrustedProxyPeer() async throws {
            try await withTestServer(configure: {
                $0.acceptsProxyProtocol = true
                $0.proxyProtocolSources = [IPNetwork("127.0.0.1/32")!]
            }) { server in
                let outcome = try await pipelinedExchange(
                    port: server.port,
                    from: "127.0.0.2",
                    send: Array("PROXY TCP4 203.0.113.66 127.0.0.1 4242 5000\r\n".utf8) + Self.filler
                )
                print("PROBE untrustedProxyPeer: \(outcome)")
            }
        }

        @Test("probe: invalid PROXY header")
        func invalidProxyHeader() async throws {
            try await withTestServer(configure: { $0.acceptsProxyProtocol = true }) { server in
                let outcome = try await pipelinedExchange(port: server.port, send: ClientHandshake().hello + Self.filler)
                print("PROBE invalidProxyHeader: \(outcome)")
            }
        }

        @Test("probe: HTTP request instead of a hello")
        func notFramework() async throws {
            try await withTestServer { server in
                let outcome = try await pipelinedExchange(
                    port: server.port,
                    send: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + Self.filler
                )
                print("PROBE notFramework: \(outcome)")
            }
        }

        @Test("probe: oversized frame after the hello")
        func oversizedFrame() async throws {
            try await withTestServer { server in
                let outcome = try await pipelinedExchange(
                    port: server.port,
                    send: ClientHandshake().hello + [0x7F, 0xFF, 0xFF, 0xFF] + Self.filler
                )
                print("PROBE oversizedFrame: \(outcome)")
            }
        }

        @Test("probe: TLS record that is no ClientHello")
        func badTLS() async throws {
            let tls = try selfSignedTLSContext()
            try await withTestServer(configure: { $0.tls = tls }) { server in
                // A handshake record holding a ServerHello-typed message: the server's TLS refuses it with an alert.
                let record: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00]
                let outcome = try await pipelinedExchange(port: server.port, send: record + Self.filler)
                print("PROBE badTLS: \(outcome)")
            }
        }
    }
}

/// How a pipelining peer's connection ended: what it received, and whether an end of stream or a reset ended it.
struct PipelinedOutcome: Equatable, CustomStringConvertible {
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

/// Connects to `127.0.0.1:port` (from `localAddress` when given) with a blocking socket, sends `bytes` at once,
/// waits `readAfter` (the server decides meanwhile), then reads until the end of stream, a reset or `timeout`.
func pipelinedExchange(
    port: Int,
    from localAddress: String? = nil,
    send bytes: [UInt8],
    readAfter: Duration = .milliseconds(300),
    timeout: Duration = .seconds(15)
) async throws -> PipelinedOutcome {
    try await runBlocking {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PipelinedExchangeError(step: "socket", code: errno) }
        defer { close(fd) }
        if let localAddress {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(localAddress)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw PipelinedExchangeError(step: "bind", code: errno) }
        }
        var wait = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw PipelinedExchangeError(step: "connect", code: errno) }
        // One write, as a client that sends its hello and first requests together; the server may already have
        // closed (its reset then ends the write early, which the reads below see again).
        _ = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        usleep(UInt32(readAfter.components.seconds * 1_000_000 + readAfter.components.attoseconds / 1_000_000_000_000))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        // Bounded: at most 1 MiB, and each read by SO_RCVTIMEO.
        while received.count < 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += chunk.prefix(count)
            } else if count == 0 {
                return PipelinedOutcome(received: received, end: .endOfStream)
            } else if errno == EINTR {
                continue
            } else if errno == ECONNRESET {
                return PipelinedOutcome(received: received, end: .reset)
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return PipelinedOutcome(received: received, end: .timedOut)
            } else {
                return PipelinedOutcome(received: received, end: .failed(errno))
            }
        }
        return PipelinedOutcome(received: received, end: .timedOut)
    }
}

struct PipelinedExchangeError: Error {
    let step: String
    let code: Int32
}
