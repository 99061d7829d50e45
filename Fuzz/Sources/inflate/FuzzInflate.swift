import TTProtocol

// The bytes a frame carries once authenticated: a gzip stream. Fuzzed two ways: sealed with the test-vector key
// and decoded through the codec (inflate with the frame limit, then packet parsing), and inflated directly
// around its exact size, where the limit must cut at the right byte.

let clientKeys = SessionKeys(
    sendKey: hex("6543e3b1fe2a5daf2c946122884def5663d15e21301f88f3b6f70dfa0ac9fbbe"),
    sendIV: hex("88f1d6299eb1dc9b97c9a49b"),
    receiveKey: hex("673e66a51f5e35d3584614f3ad8f0e3ef81e1766dda2cc4c6210b2a6d06dfa3f"),
    receiveIV: hex("e9a0b549715dc8fd1fa00283")
)
let limits = ProtocolLimits(maxFrameSize: 1 << 16, maxInflatedSize: 1 << 18)

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let sealer = try! FrameSealer(keys: clientKeys, limits: limits)
    let codec = try! PacketCodec(keys: clientKeys.reversed, limits: limits)
    if let frame = try? sealer.seal(bytes) {
        do {
            let packet = try codec.decode(frame: frame)
            precondition(packet.serialize().count <= limits.maxInflatedSize)
        } catch {
            // An empty body seals into a frame of the tag alone, which no peer may send.
            precondition(
                error == .inflatedSizeExceeded || error == .corruptCompressedData || error == .truncatedPacket
                    || error == .unknownPacketType || (bytes.isEmpty && error == .frameTooSmall),
                "unexpected \(error)"
            )
        }
    }

    let gzip = GzipCodec()
    guard let inflated = try? gzip.decompress(bytes, limit: limits.maxInflatedSize) else { return 0 }
    precondition(inflated.count <= limits.maxInflatedSize)
    // Exactly at the limit passes with the same bytes; one byte less is refused as too large.
    precondition((try? gzip.decompress(bytes, limit: inflated.count)) == inflated)
    if !inflated.isEmpty {
        do {
            _ = try gzip.decompress(bytes, limit: inflated.count - 1)
            preconditionFailure("inflated \(inflated.count) bytes past a limit of \(inflated.count - 1)")
        } catch {
            precondition(error == .inflatedSizeExceeded, "unexpected \(error)")
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
