import TTBasics
import TTProtocol
import TTTestSupport
import Testing

@testable import TTServer

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

    @Test("A PROXY header is accepted only from --proxy-protocol-from peers; others are refused, closed and logged")
    func trustedSources() async throws {
        let logs = LogCapture()
        let configure: @Sendable (inout ServerConfiguration) -> Void = {
            $0.acceptsProxyProtocol = true
            $0.proxyProtocolSources = [IPNetwork("127.0.0.1/32")!]
        }
        try await withTestServer(logs: logs, configure: configure) { server in
            let forged = Array("PROXY TCP4 203.0.113.66 127.0.0.1 4242 5000\r\n".utf8)
            let untrusted = try await RawConnection.connect(host: server.host, port: server.port, from: "127.0.0.2")
            // The server may close before this write lands; the close is what matters.
            try? await untrusted.send(forged + ClientHandshake().hello)
            try await untrusted.expectClosed()
            let refusal = logs.all.first { $0.message == "connection refused" }
            #expect(refusal?.metadata["peer"]?.hasPrefix("127.0.0.2:") == true, "\(logs.all.map(\.message))")
            #expect(refusal?.metadata["reason"]?.contains("not a trusted balancer") == true)
            #expect(!logs.all.contains { $0.metadata["peer"]?.hasPrefix("203.0.113.66") == true })

            let trusted = try await TestClient.connect(
                host: server.host,
                port: server.port,
                preamble: Array("PROXY TCP4 203.0.113.7 127.0.0.1 4242 5000\r\n".utf8),
                localAddress: "127.0.0.1"
            )
            #expect(try await trusted.ping().rc == .requestOK)
            await trusted.close()
            #expect(logs.all.first { $0.message == "handshake completed" }?.metadata["peer"] == "203.0.113.7:4242")
        }
    }

    @Test("The default trusted sources are loopback, IPv4 and IPv6, and nothing else")
    func defaultSources() {
        let sources = ServerConfiguration.loopbackNetworks
        for address in ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"] {
            #expect(ServerConfiguration.trustsProxyProtocol(from: address, sources: sources), "\(address)")
        }
        for address in ["10.0.0.1", "128.0.0.1", "::2", "2001:db8::1", "127.0.0.1\u{0}", "localhost"] {
            #expect(!ServerConfiguration.trustsProxyProtocol(from: address, sources: sources), "\(address)")
        }
        #expect(!ServerConfiguration.trustsProxyProtocol(from: nil, sources: sources))
    }

    @Test("A --proxy-protocol-from list parses block by block; the first bad item is named, a NUL included")
    func sourceList() throws {
        let sources = try ServerConfiguration.proxyProtocolSources(parsing: "10.0.0.0/8, 2001:db8::/32")
        #expect(ServerConfiguration.trustsProxyProtocol(from: "10.200.0.1", sources: sources))
        #expect(ServerConfiguration.trustsProxyProtocol(from: "2001:db8:ffff::1", sources: sources))
        #expect(!ServerConfiguration.trustsProxyProtocol(from: "11.0.0.1", sources: sources))
        #expect(!ServerConfiguration.trustsProxyProtocol(from: "127.0.0.1", sources: sources))
        for (list, item) in [
            ("10.0.0.0/8,", ""), ("10.0.0.0/33", "10.0.0.0/33"), ("10.0.0.0\u{0}x/8", "10.0.0.0\u{0}x/8"),
            ("10.0.0.0/8,host/8", "host/8"), ("10.0.0.0", "10.0.0.0"), ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"),
        ] {
            let error = try #require(throws: ServerConfiguration.ProxyProtocolSourceError.self) {
                try ServerConfiguration.proxyProtocolSources(parsing: list)
            }
            #expect(error.item == item, "\(list)")
        }
    }
}
