import TTProtocol
import TTServer
import TTTestSupport
import Testing

/// Every kind of bad input closes only the connection that sent it, with a logged reason, while another session
/// on the same server keeps working.
@Suite("Rejections")
struct RejectionTests {
    /// Opens a witness session, lets `misbehave` act on a second connection, expects that connection closed
    /// with a reason containing `reason`, and checks the witness still pings.
    private func expectOnlyOffenderClosed(
        reason: String,
        limits: ProtocolLimits = .default,
        offloadThreshold: Int = 64 << 10,
        misbehave: @escaping (TestServer) async throws -> RawConnection
    ) async throws {
        let logs = LogCapture()
        try await withTestServer(limits: limits, logs: logs, configure: { $0.offloadThreshold = offloadThreshold }) {
            server in
            let witness = try await TestClient.connect(to: server)
            #expect(try await witness.ping().rc == .requestOK)
            let offender = try await misbehave(server)
            try await offender.expectClosed()
            let logged = await logs.waitForCloseReason(containing: reason)
            #expect(logged != nil, "close reasons: \(logs.closeReasons)")
            #expect(try await witness.ping().rc == .requestOK)
            #expect(try await witness.echo([1, 2, 3]).payload == [1, 2, 3])
            await witness.close()
            await offender.close()
        }
    }

    @Test("Garbage instead of a ClientHello closes the connection")
    func garbage() async throws {
        try await expectOnlyOffenderClosed(reason: "magic") { server in
            let connection = try await RawConnection.connect(host: server.host, port: server.port)
            try await connection.send([0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01, 0x02])
            return connection
        }
    }

    @Test("An HTTP request closes the connection without waiting for 70 bytes")
    func httpRequest() async throws {
        try await expectOnlyOffenderClosed(reason: "magic") { server in
            let connection = try await RawConnection.connect(host: server.host, port: server.port)
            try await connection.send(Array("GET / HTTP/1.1\r\n".utf8))
            return connection
        }
    }

    @Test("A wrong protocol version closes the connection")
    func wrongVersion() async throws {
        try await expectOnlyOffenderClosed(reason: "version") { server in
            let connection = try await RawConnection.connect(host: server.host, port: server.port)
            var hello = ClientHandshake().hello
            hello[5] = 9
            try await connection.send(hello)
            return connection
        }
    }

    @Test("A hello cut short by the peer closing is logged")
    func truncatedHello() async throws {
        let logs = LogCapture()
        try await withTestServer(logs: logs) { server in
            let connection = try await RawConnection.connect(host: server.host, port: server.port)
            try await connection.send(Array(ClientHandshake().hello.prefix(30)))
            try await Task.sleep(for: .milliseconds(50))
            await connection.close()
            #expect(await logs.waitForCloseReason(containing: "handshake message") != nil, "\(logs.closeReasons)")
        }
    }

    @Test("A length prefix above maxFrameSize closes the connection before any body byte")
    func oversizedLength() async throws {
        try await expectOnlyOffenderClosed(reason: "exceeds the maximum frame size") { server in
            let client = try await TestClient.connect(to: server)
            try await client.connection.send([0x7F, 0xFF, 0xFF, 0xFF])
            return client.connection
        }
    }

    @Test("A length prefix too small for the tag closes the connection")
    func tooSmallLength() async throws {
        try await expectOnlyOffenderClosed(reason: "too small") { server in
            let client = try await TestClient.connect(to: server)
            try await client.connection.send([0, 0, 0, 16] + [UInt8](repeating: 0, count: 16))
            return client.connection
        }
    }

    @Test("A frame with a forged tag closes the connection")
    func forgedTag() async throws {
        try await expectOnlyOffenderClosed(reason: "authentication") { server in
            let client = try await TestClient.connect(to: server)
            var frame = try client.codec.encode(.request(RequestPacket(function: .ping)))
            frame[frame.count - 1] ^= 0x01
            try await client.connection.send(frame)
            return client.connection
        }
    }

    @Test("A replayed frame closes the connection")
    func replayedFrame() async throws {
        try await expectOnlyOffenderClosed(reason: "authentication") { server in
            let client = try await TestClient.connect(to: server)
            let frame = try client.codec.encode(.request(RequestPacket(function: .ping)))
            try await client.connection.send(frame)
            #expect(try await client.receiveResponse().rc == .requestOK)
            try await client.connection.send(frame)
            return client.connection
        }
    }

    @Test("A frame sealed with another key closes the connection")
    func wrongKey() async throws {
        try await expectOnlyOffenderClosed(reason: "authentication") { server in
            let client = try await TestClient.connect(to: server)
            let stranger = try FrameSealer(key: pseudoRandomBytes(count: 32), iv: pseudoRandomBytes(count: 12))
            let frame = try stranger.seal(
                GzipCodec().compress(Packet.request(RequestPacket(function: .ping)).serialize())
            )
            try await client.connection.send(frame)
            return client.connection
        }
    }

    @Test("A frame cut short by the peer closing is logged")
    func truncatedFrame() async throws {
        let logs = LogCapture()
        try await withTestServer(logs: logs) { server in
            let witness = try await TestClient.connect(to: server)
            let client = try await TestClient.connect(to: server)
            let frame = try client.codec.encode(.request(RequestPacket(function: .echo, payload: [1, 2, 3, 4])))
            try await client.connection.send(Array(frame.prefix(frame.count - 5)))
            try await Task.sleep(for: .milliseconds(50))
            await client.close()
            #expect(await logs.waitForCloseReason(containing: "middle of a frame") != nil, "\(logs.closeReasons)")
            #expect(try await witness.ping().rc == .requestOK)
            await witness.close()
        }
    }

    @Test("A decompression bomb closes the connection at maxInflatedSize")
    func decompressionBomb() async throws {
        try await expectOnlyOffenderClosed(reason: "inflates beyond", limits: ProtocolLimits(maxInflatedSize: 1 << 20))
        {
            server in
            let client = try await TestClient.connect(to: server)
            let bomb = RequestPacket(function: .echo, payload: [UInt8](repeating: 0, count: 8 << 20))
            try await client.connection.send(client.codec.encode(.request(bomb)))
            return client.connection
        }
    }

    @Test("A large decompression bomb inflated on the thread pool closes the connection too")
    func largeDecompressionBomb() async throws {
        try await expectOnlyOffenderClosed(
            reason: "inflates beyond",
            limits: ProtocolLimits(maxInflatedSize: 1 << 20),
            offloadThreshold: 1024
        ) { server in
            let client = try await TestClient.connectLoggedIn(to: server)
            // ~8 KiB of gzip that inflates to 8 MiB: above the (lowered) offload threshold.
            let bomb = RequestPacket(function: .echo, payload: [UInt8](repeating: 0, count: 8 << 20))
            try await client.connection.send(client.codec.encode(.request(bomb)))
            return client.connection
        }
    }

    @Test("A plaintext that is not gzip closes the connection")
    func corruptCompression() async throws {
        try await expectOnlyOffenderClosed(reason: "not valid gzip") { server in
            let client = try await TestClient.connect(to: server)
            let sealer = try FrameSealer(keys: client.keys)
            try await client.connection.send(sealer.seal(Array("not gzip at all".utf8)))
            return client.connection
        }
    }

    @Test("A packet of unknown type closes the connection")
    func unknownPacketType() async throws {
        try await expectOnlyOffenderClosed(reason: "neither request nor response") { server in
            let client = try await TestClient.connect(to: server)
            let sealer = try FrameSealer(keys: client.keys)
            try await client.connection.send(sealer.seal(GzipCodec().compress([9, 0, 1])))
            return client.connection
        }
    }

    @Test("A packet shorter than its header closes the connection")
    func truncatedPacket() async throws {
        try await expectOnlyOffenderClosed(reason: "shorter than its header") { server in
            let client = try await TestClient.connect(to: server)
            let sealer = try FrameSealer(keys: client.keys)
            try await client.connection.send(sealer.seal(GzipCodec().compress([1, 0, 1])))
            return client.connection
        }
    }

    @Test("A response packet sent to the server closes the connection")
    func responseToServer() async throws {
        try await expectOnlyOffenderClosed(reason: "unexpected packet") { server in
            let client = try await TestClient.connect(to: server)
            try await client.connection.send(client.codec.encode(.response(ResponsePacket(rc: .requestOK))))
            return client.connection
        }
    }
}
