/// The plaintext of one frame: a request or a response.
public enum Packet: Hashable, Sendable {
    case request(RequestPacket)
    case response(ResponsePacket)

    static let requestType: UInt8 = 1
    static let responseType: UInt8 = 2

    /// The packet's wire bytes (header then payload).
    public func serialize() -> [UInt8] {
        let (header, payload) = parts
        return header + payload
    }

    /// Header and payload apart, so encoders can feed them without joining them first.
    var parts: (header: [UInt8], payload: [UInt8]) {
        switch self {
        case .request(let request): (request.header, request.payload)
        case .response(let response): (response.header, response.payload)
        }
    }

    /// Whether its compressed form may come from, and go into, a deflate stream's memo of small inputs
    /// (`CZlib_DeflateMemo`, which keeps them): only a packet without payload (a Ping, its answer, a bare
    /// return code), which holds no secret and repeats. A Login's payload holds a password.
    var mayBeMemoized: Bool {
        switch self {
        case .request(let request): request.payload.isEmpty
        case .response(let response): response.payload.isEmpty
        }
    }

    /// Parses wire bytes.
    /// - Throws: ``ProtocolError/truncatedPacket`` or ``ProtocolError/unknownPacketType``.
    public init(parsing bytes: [UInt8]) throws(ProtocolError) {
        let parsed = bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtocolError) in try Packet(parsing: buffer) }
        }
        self = try parsed.get()
    }

    /// Parses wire bytes from a buffer (the payload is copied out).
    /// - Throws: ``ProtocolError/truncatedPacket`` or ``ProtocolError/unknownPacketType``.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(ProtocolError) {
        guard let type = bytes.first else {
            throw ProtocolError.truncatedPacket.with(detail: "empty packet")
        }
        switch type {
        case Self.requestType:
            guard bytes.count >= RequestPacket.headerSize else {
                throw ProtocolError.truncatedPacket.with(detail: "request of \(bytes.count) bytes")
            }
            self = .request(
                RequestPacket(
                    function: FunctionCode(rawValue: bytes.bigEndianUInt16(at: 1)),
                    flags: bytes.bigEndianUInt32(at: 3),
                    optArgs: bytes.bigEndianUInt32(at: 7),
                    payload: Array(bytes[RequestPacket.headerSize...])
                )
            )
        case Self.responseType:
            guard bytes.count >= ResponsePacket.headerSize else {
                throw ProtocolError.truncatedPacket.with(detail: "response of \(bytes.count) bytes")
            }
            self = .response(
                ResponsePacket(
                    rc: ReturnCode(rawValue: bytes.bigEndianUInt16(at: 1)),
                    feedback: bytes.bigEndianUInt32(at: 3),
                    elapsedMilliseconds: bytes.bigEndianUInt32(at: 7),
                    avail: bytes.bigEndianUInt32(at: 11),
                    count: bytes.bigEndianUInt32(at: 15),
                    payload: Array(bytes[ResponsePacket.headerSize...])
                )
            )
        default:
            throw ProtocolError.unknownPacketType.with(detail: "type byte \(type)")
        }
    }
}
