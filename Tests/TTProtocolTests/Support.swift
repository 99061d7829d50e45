import TTProtocol

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }

    var hex: String { map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}

/// Deterministic, mildly compressible bytes (a record-like pattern with a counter), so tests never depend on
/// a random generator.
func recordLikeBytes(_ count: Int, seed: UInt32 = 1) -> [UInt8] {
    var state = seed
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 16)
    let words = "VOLSER TAPE SCRATCH LOCATION VAULT CUSTOMER ACME MOUNT EXPIRY RETAIN".split(separator: " ").map {
        Array($0.utf8)
    }
    while bytes.count < count {
        state = state &* 1_103_515_245 &+ 12345
        if state >> 28 < 4 {
            bytes += Array(String((state >> 12) % 100_000).utf8)
        } else {
            bytes += words[Int(state >> 16) % words.count]
        }
        bytes.append(state >> 30 == 0 ? 0x0A : 0x20)
    }
    return Array(bytes.prefix(count))
}

/// A client and server codec pair from a real handshake.
func connectedCodecs(limits: ProtocolLimits = .default) throws -> (client: PacketCodec, server: PacketCodec) {
    let client = ClientHandshake()
    let server = ServerHandshake(identity: ServerIdentity.generate())
    let (serverHello, serverKeys) = try server.respond(to: client.hello)
    let (clientKeys, _) = try client.finish(serverHello: serverHello)
    return (try PacketCodec(keys: clientKeys, limits: limits), try PacketCodec(keys: serverKeys, limits: limits))
}
