import TTProtocol

// Inflated frame plaintext: request and response packets, and the Login payload. What parses must serialize
// back to the same bytes.

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let packet = try? Packet(parsing: bytes) {
        precondition(packet.serialize() == bytes)
        _ = String(describing: packet)
        if case .request(let request) = packet, request.function == .login,
            let login = try? LoginPayload(parsing: request.payload)
        {
            precondition((try? login.serialize()) == request.payload)
        }
    }
    if let login = try? LoginPayload(parsing: bytes) {
        precondition((try? login.serialize()) == bytes)
    }
    return 0
}
