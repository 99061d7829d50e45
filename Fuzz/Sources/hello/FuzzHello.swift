import TTProtocol

// Hellos as the two sides receive them: a ClientHello at the server, a ServerHello at the client, with the
// test-vector keys of docs/PROTOCOL.md (the seeds are those vectors' hellos).

let server = try! ServerHandshake(
    identity: try! ServerIdentity(privateKey: Array(0x60...0x7F)),
    ephemeralPrivateKey: Array(0x40...0x5F)
)
let client = try! ClientHandshake(ephemeralPrivateKey: Array(0x00...0x1F), random: Array(0x20...0x3F))

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? Handshake.validatePrefix(bytes)
    if let (serverHello, keys) = try? server.respond(to: bytes) {
        precondition(bytes.count == Handshake.clientHelloSize && serverHello.count == Handshake.serverHelloSize)
        _ = try! PacketCodec(keys: keys)
    }
    if let (keys, _) = try? client.finish(serverHello: bytes) {
        precondition(bytes.count == Handshake.serverHelloSize)
        _ = try! PacketCodec(keys: keys)
    }
    return 0
}
