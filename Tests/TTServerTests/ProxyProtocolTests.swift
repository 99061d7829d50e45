import TTProtocol
import TTServer
import TTTestSupport
import Testing

/// Sessions behind a load balancer: a PROXY protocol header names the real client.
@Suite("PROXY protocol")
struct ProxyProtocolTests {
    /// Sends `header` and a ClientHello in one write, pings, and returns the peer the server logged.
    private func peerLogged(after header: [UInt8]) async throws -> String? {
        let logs = LogCapture()
        return try await withTestServer(logs: logs, configure: { $0.acceptsProxyProtocol = true }) { server in
            let connection = try await RawConnection.connect(host: server.host, port: server.port)
            let handshake = ClientHandshake()
            try await connection.send(header + handshake.hello)
            let serverHello: [UInt8]
            do { serverHello = try await connection.receive(exactly: Handshake.serverHelloSize) } catch {
                Issue.record("closed: \(logs.closeReasons)")
                throw error
            }
            let (keys, _) = try handshake.finish(serverHello: serverHello)
            let codec = try PacketCodec(keys: keys)
            try await connection.send(codec.encode(.request(RequestPacket(function: .ping))))
            let header = try codec.decodeHeader(try await connection.receive(exactly: 4))
            guard
                case .response(let response) = try codec.decode(
                    header: header,
                    body: try await connection.receive(exactly: header.length)
                )
            else { throw TestClientError.notAResponse }
            #expect(response.rc == .requestOK)
            await connection.close()
            return logs.all.first { $0.message == "handshake completed" }?.metadata["peer"]
        }
    }

    @Test("A v1 TCP4 header names the client")
    func v1IPv4() async throws {
        #expect(
            try await peerLogged(after: Array("PROXY TCP4 203.0.113.7 127.0.0.1 4242 5000\r\n".utf8))
                == "203.0.113.7:4242"
        )
    }

    @Test("A v1 TCP6 header names the client in brackets")
    func v1IPv6() async throws {
        #expect(
            try await peerLogged(after: Array("PROXY TCP6 2001:db8::1 ::1 4242 5000\r\n".utf8)) == "[2001:db8::1]:4242"
        )
    }

    @Test("A v1 UNKNOWN header keeps the socket's address")
    func v1Unknown() async throws {
        let peer = try await peerLogged(after: Array("PROXY UNKNOWN\r\n".utf8))
        #expect(peer?.hasPrefix("127.0.0.1:") == true)
    }

    @Test("A v2 PROXY header over TCP/IPv4 names the client")
    func v2IPv4() async throws {
        let header: [UInt8] =
            [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0, 12]
            + [198, 51, 100, 9] + [127, 0, 0, 1] + [0x10, 0x92] + [0x13, 0x88]
        #expect(try await peerLogged(after: header) == "198.51.100.9:4242")
    }

    @Test("A v2 PROXY header over TCP/IPv6 names the client")
    func v2IPv6() async throws {
        let source: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [2]
        let header: [UInt8] =
            [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0, 36]
            + source + [UInt8](repeating: 0, count: 15) + [1] + [0x10, 0x92] + [0x13, 0x88]
        #expect(try await peerLogged(after: header) == "[2001:db8::2]:4242")
    }

    @Test(
        "A connection without a valid PROXY header is closed when the header is required",
        arguments: [
            ("TTFW", "expected a PROXY protocol header"), ("PROXY TCP4 nonsense\r\n", "malformed PROXY v1 line"),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "CRLF"),
        ]
    )
    func missingHeader(text: String, reason: String) async throws {
        let logs = LogCapture()
        try await withTestServer(logs: logs, configure: { $0.acceptsProxyProtocol = true }) { server in
            let witness = try await RawConnection.connect(host: server.host, port: server.port)
            try await witness.send(Array("PROXY UNKNOWN\r\n".utf8))
            let connection = try await RawConnection.connect(host: server.host, port: server.port)
            try await connection.send(Array(text.utf8))
            try await connection.expectClosed()
            #expect(await logs.waitForCloseReason(containing: reason) != nil, "\(logs.closeReasons)")
            let handshake = ClientHandshake()
            try await witness.send(handshake.hello)
            _ = try handshake.finish(serverHello: try await witness.receive(exactly: Handshake.serverHelloSize))
            await witness.close()
        }
    }
}
