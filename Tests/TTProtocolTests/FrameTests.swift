import Testing

@testable import TTProtocol

@Suite("Frames and PacketCodec")
struct FrameTests {
    @Test(
        "Every packet type round-trips through a real session in both directions, 0 bytes to 4 MiB",
        arguments: [0, 1, 17, 4096, 65536, 1 << 20, 4 << 20]
    )
    func roundTrip(size: Int) throws {
        let (client, server) = try connectedCodecs()
        let payload = recordLikeBytes(size, seed: UInt32(truncatingIfNeeded: size))
        for function in [FunctionCode.ping, .login, .logout, .echo] {
            let request = Packet.request(RequestPacket(function: function, flags: 3, optArgs: 4, payload: payload))
            #expect(try server.decode(frame: client.encode(request)) == request)
        }
        let response = Packet.response(
            ResponsePacket(
                rc: .requestOK,
                feedback: 1,
                elapsedMilliseconds: 2,
                avail: 3,
                count: UInt32(size),
                payload: payload
            )
        )
        #expect(try client.decode(frame: server.encode(response)) == response)
    }

    @Test("A frame's length prefix counts ciphertext and tag and is what the receiver validates")
    func lengthPrefix() throws {
        let (client, server) = try connectedCodecs()
        let frame = try client.encode(.request(RequestPacket(function: .ping)))
        let header = try server.decodeHeader(Array(frame.prefix(4)))
        #expect(header.length == frame.count - 4)
        #expect(header.bytes == Array(frame.prefix(4)))
        #expect(
            try server.decode(header: header, body: Array(frame.dropFirst(4)))
                == .request(RequestPacket(function: .ping))
        )
    }

    @Test("A length above maxFrameSize is rejected from the header alone")
    func tooLarge() {
        let limits = ProtocolLimits.default
        #expect(throws: ProtocolError.frameTooLarge) {
            try FrameHeader(parsing: [0x01, 0x00, 0x00, 0x01], limits: limits)
        }
        #expect(throws: ProtocolError.frameTooLarge) {
            try FrameHeader(parsing: [0xFF, 0xFF, 0xFF, 0xFF], limits: limits)
        }
        #expect(throws: Never.self) { try FrameHeader(parsing: [0x01, 0x00, 0x00, 0x00], limits: limits) }
        #expect(ProtocolError.frameTooLarge.kind == .frameRejected)
    }

    @Test("A header read from the start of a slice that does not start at 0 is the same header, not copied")
    func headerFromSlice() throws {
        let limits = ProtocolLimits.default
        let bytes: [UInt8] = [0xAA, 0xBB, 0x00, 0x00, 0x01, 0x02, 0xCC]
        #expect(try FrameHeader(parsing: bytes[2..<6], limits: limits).length == 0x0102)
        #expect(throws: ProtocolError.frameTooLarge) { try FrameHeader(parsing: bytes[0..<4], limits: limits) }
        #expect(throws: ProtocolError.frameTooSmall) { try FrameHeader(parsing: bytes[2..<5], limits: limits) }
    }

    @Test("A length that cannot hold the tag is rejected")
    func tooSmall() {
        for bytes: [UInt8] in [[0, 0, 0, 0], [0, 0, 0, 16], [0, 0, 0], []] {
            #expect(throws: ProtocolError.frameTooSmall) { try FrameHeader.parseLength(bytes, limits: .default) }
        }
        #expect(throws: Never.self) { try FrameHeader.parseLength([0, 0, 0, 17], limits: .default) }
    }

    @Test("The sender refuses to produce a frame above its maxFrameSize")
    func senderRespectsLimit() throws {
        let (client, _) = try connectedCodecs(limits: ProtocolLimits(maxFrameSize: 1024))
        let incompressible = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3 ^ $0) }
        #expect(throws: ProtocolError.frameTooLarge) {
            try client.encode(
                .request(RequestPacket(function: .echo, payload: Crypto.randomBytes(4096) + incompressible))
            )
        }
    }

    @Test("A forged tag, ciphertext or length fails authentication")
    func forged() throws {
        let (client, server) = try connectedCodecs()
        let frame = try client.encode(.request(RequestPacket(function: .echo, payload: [1, 2, 3])))
        for index in [4, frame.count / 2, frame.count - 1] {
            var forged = frame
            forged[index] ^= 0x01
            #expect(throws: ProtocolError.authenticationFailed) { try server.decode(frame: forged) }
        }
        // A length changed together with a matching body still fails: the length is authenticated.
        var longer = frame + [0]
        longer[3] &+= 1
        #expect(throws: ProtocolError.authenticationFailed) { try server.decode(frame: longer) }
        #expect(ProtocolError.authenticationFailed.kind == .frameRejected)
    }

    @Test("A replayed frame fails authentication")
    func replayed() throws {
        let (client, server) = try connectedCodecs()
        let frame = try client.encode(.request(RequestPacket(function: .ping)))
        _ = try server.decode(frame: frame)
        #expect(throws: ProtocolError.authenticationFailed) { try server.decode(frame: frame) }
    }

    @Test("Reordered frames fail authentication")
    func reordered() throws {
        let (client, server) = try connectedCodecs()
        _ = try client.encode(.request(RequestPacket(function: .ping)))
        let second = try client.encode(.request(RequestPacket(function: .ping)))
        #expect(throws: ProtocolError.authenticationFailed) { try server.decode(frame: second) }
    }

    @Test("A truncated body fails authentication, with or without a matching length")
    func truncated() throws {
        let (client, server) = try connectedCodecs()
        let frame = try client.encode(.request(RequestPacket(function: .echo, payload: recordLikeBytes(500))))
        let header = try server.decodeHeader(Array(frame.prefix(4)))
        #expect(throws: ProtocolError.authenticationFailed) {
            try server.decode(header: header, body: Array(frame.dropFirst(4).dropLast(10)))
        }
        var shortened = Array(frame.dropLast(10))
        shortened[3] &-= 10
        #expect(throws: ProtocolError.authenticationFailed) { try server.decode(frame: shortened) }
    }

    @Test("A whole frame shorter than its header, cut short or with bytes after its body is rejected")
    func wholeFrameBounds() throws {
        let (client, server) = try connectedCodecs()
        let frame = try client.encode(.request(RequestPacket(function: .echo, payload: recordLikeBytes(300))))
        for short in [[], [0, 0, 0]] as [[UInt8]] {
            #expect(throws: ProtocolError.frameTooSmall) { try server.decode(frame: short) }
        }
        #expect(throws: ProtocolError.authenticationFailed) { try server.decode(frame: Array(frame.dropLast())) }
        #expect(throws: ProtocolError.authenticationFailed) { try server.decode(frame: frame + [0]) }
        // None of them used up the frame's counter: the frame itself still opens.
        #expect(
            try server.decode(frame: frame) == .request(RequestPacket(function: .echo, payload: recordLikeBytes(300)))
        )
    }

    @Test("A frame sealed with another session's key fails authentication")
    func wrongKey() throws {
        let (client, _) = try connectedCodecs()
        let (_, otherServer) = try connectedCodecs()
        let frame = try client.encode(.request(RequestPacket(function: .ping)))
        #expect(throws: ProtocolError.authenticationFailed) { try otherServer.decode(frame: frame) }
    }

    @Test("A frame can't be sent back to its sender (directions use different keys)")
    func reflected() throws {
        let (client, _) = try connectedCodecs()
        let frame = try client.encode(.request(RequestPacket(function: .ping)))
        #expect(throws: ProtocolError.authenticationFailed) { try client.decode(frame: frame) }
    }

    @Test("An authentic frame carrying a bomb is refused at maxInflatedSize")
    func authenticBomb() throws {
        let limits = ProtocolLimits(maxInflatedSize: 1 << 20)
        let (client, server) = try connectedCodecs(limits: limits)
        let big = Packet.request(RequestPacket(function: .echo, payload: [UInt8](repeating: 0, count: 8 << 20)))
        #expect(throws: ProtocolError.inflatedSizeExceeded) { try server.decode(frame: client.encode(big)) }
    }

    @Test("Authentic frames with corrupt gzip, trailing garbage or a malformed packet are rejected")
    func authenticGarbage() throws {
        let gzip = GzipCodec()
        let cases: [([UInt8], ProtocolError)] = [
            (Array("not gzip".utf8), .corruptCompressedData),
            (
                gzip.compress(Packet.request(RequestPacket(function: .ping)).serialize()) + [1, 2, 3],
                .corruptCompressedData
            ),
            (gzip.compress([1, 0, 1]), .truncatedPacket),
            (gzip.compress([9] + Array(repeating: 0, count: 20)), .unknownPacketType),
        ]
        for (plaintext, expected) in cases {
            let client = ClientHandshake()
            let (serverHello, serverKeys) = try ServerHandshake(identity: .generate()).respond(to: client.hello)
            let sealer = try FrameSealer(keys: client.finish(serverHello: serverHello).keys)
            let server = try PacketCodec(keys: serverKeys)
            #expect(throws: expected) { try server.decode(frame: sealer.seal(plaintext)) }
        }
    }

    private func rawPair() throws -> (FrameSealer, FrameOpener) {
        let key = Crypto.randomBytes(32)
        let iv = Crypto.randomBytes(12)
        return (try FrameSealer(key: key, iv: iv), try FrameOpener(key: key, iv: iv))
    }

    @Test("Frame n uses nonce iv XOR n: the counters advance per frame")
    func counters() throws {
        let (sealer, opener) = try rawPair()
        for index in 0..<5 {
            #expect(sealer.counter == UInt64(index))
            let frame = try sealer.seal([UInt8(index)])
            #expect(
                try opener.open(
                    header: FrameHeader(parsing: Array(frame.prefix(4)), limits: .default),
                    body: Array(frame.dropFirst(4))
                ) == [UInt8(index)]
            )
            #expect(opener.counter == UInt64(index + 1))
        }
    }
}
