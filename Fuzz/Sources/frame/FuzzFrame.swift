import TTProtocol

// Wire bytes as a server receives them from a client: frames opened in order with the test-vector keys of
// docs/PROTOCOL.md (the seeds are frames sealed with those keys), then inflated and parsed as packets.

/// The server's side of the test-vector session: it receives with the client-to-server key.
let serverKeys = SessionKeys(
    sendKey: hex("673e66a51f5e35d3584614f3ad8f0e3ef81e1766dda2cc4c6210b2a6d06dfa3f"),
    sendIV: hex("e9a0b549715dc8fd1fa00283"),
    receiveKey: hex("6543e3b1fe2a5daf2c946122884def5663d15e21301f88f3b6f70dfa0ac9fbbe"),
    receiveIV: hex("88f1d6299eb1dc9b97c9a49b")
)
/// Small limits, so the fuzzer reaches both bounds with inputs of a few KiB.
let limits = ProtocolLimits(maxFrameSize: 1 << 16, maxInflatedSize: 1 << 18)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let codec = try! PacketCodec(keys: serverKeys, limits: limits)
    var rest = bytes[...]
    while rest.count >= FrameHeader.size {
        guard let header = try? codec.decodeHeader(Array(rest.prefix(FrameHeader.size))) else { break }
        precondition(header.length > FrameHeader.tagSize && header.length <= limits.maxFrameSize)
        rest = rest.dropFirst(FrameHeader.size)
        guard rest.count >= header.length else { break }
        let body = Array(rest.prefix(header.length))
        rest = rest.dropFirst(header.length)
        guard let packet = try? codec.decode(header: header, body: body) else { break }
        precondition(packet.serialize().count <= limits.maxInflatedSize)
        if case .request(let request) = packet, request.function == .login {
            _ = try? LoginPayload(parsing: request.payload)
        }
    }
    return 0
}

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)!
    }
}
