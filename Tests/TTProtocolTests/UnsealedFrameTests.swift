import TTProtocol
import Testing

@Suite("Unsealed frames")
struct UnsealedFrameTests {
    static let keys = SessionKeys(
        sendKey: [UInt8](repeating: 1, count: 32),
        sendIV: [UInt8](repeating: 2, count: 12),
        receiveKey: [UInt8](repeating: 3, count: 32),
        receiveIV: [UInt8](repeating: 4, count: 12)
    )

    @Test("compressFrame then seal gives the same frames as PacketCodec.encode, counters in step")
    func sameAsEncode() throws {
        let keys = Self.keys
        let codec = try PacketCodec(keys: keys)
        let sealer = try FrameSealer(keys: keys)
        let gzip = GzipCodec()
        for size in [0, 100, 300 << 10] {
            let packet = Packet.response(
                ResponsePacket(rc: .requestOK, count: UInt32(size), payload: [UInt8](repeating: 7, count: size))
            )
            #expect(try sealer.seal(gzip.compressFrame(packet)) == codec.encode(packet))
        }
        #expect(sealer.counter == 3)
    }

    @Test("A frame over maxFrameSize is refused without moving the counter")
    func tooLarge() throws {
        let keys = Self.keys
        let sealer = try FrameSealer(keys: keys, limits: ProtocolLimits(maxFrameSize: 64))
        let payload = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }
        let packet = Packet.request(RequestPacket(function: .echo, payload: payload))
        #expect(throws: ProtocolError.frameTooLarge) { try sealer.seal(GzipCodec().compressFrame(packet)) }
        #expect(sealer.counter == 0)
    }
}
