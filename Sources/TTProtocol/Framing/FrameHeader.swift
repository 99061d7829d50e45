/// The 4-byte length prefix of a frame. `length` counts ciphertext plus tag and must satisfy
/// `16 < length <= maxFrameSize`; the 4 bytes are the GCM additional authenticated data.
public struct FrameHeader: Hashable, Sendable {
    /// Bytes of the length prefix.
    public static let size = 4
    /// Bytes of the AES-GCM tag at the end of every frame body.
    public static let tagSize = 16

    /// The body length `L`: ciphertext plus tag.
    public let length: Int

    /// Validates a body length read from the wire.
    /// - Throws: ``ProtocolError/frameTooSmall`` or ``ProtocolError/frameTooLarge``.
    public init(length: UInt32, limits: ProtocolLimits) throws(ProtocolError) {
        guard length > UInt32(Self.tagSize) else {
            throw ProtocolError.frameTooSmall.with(detail: "length \(length)")
        }
        guard Int(length) <= limits.maxFrameSize else {
            throw ProtocolError.frameTooLarge.with(detail: "length \(length), limit \(limits.maxFrameSize)")
        }
        self.length = Int(length)
    }

    /// Parses and validates the 4 length bytes.
    /// - Throws: ``ProtocolError/frameTooSmall`` (also when `bytes` is not 4 bytes long) or
    ///   ``ProtocolError/frameTooLarge``.
    public init(parsing bytes: [UInt8], limits: ProtocolLimits) throws(ProtocolError) {
        try self.init(parsing: bytes[...], limits: limits)
    }

    /// Parses and validates the 4 length bytes at the start of a buffer being filled, without copying them.
    /// - Throws: ``ProtocolError/frameTooSmall`` (also when `bytes` is not 4 bytes long) or
    ///   ``ProtocolError/frameTooLarge``.
    public init(parsing bytes: ArraySlice<UInt8>, limits: ProtocolLimits) throws(ProtocolError) {
        guard bytes.count == Self.size else {
            throw ProtocolError.frameTooSmall.with(detail: "header of \(bytes.count) bytes")
        }
        let i = bytes.startIndex
        let length =
            UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
        try self.init(length: length, limits: limits)
    }

    /// Parses the 4 length bytes and returns the body length to read next.
    /// - Throws: ``ProtocolError/frameTooSmall`` or ``ProtocolError/frameTooLarge``.
    public static func parseLength(_ bytes: [UInt8], limits: ProtocolLimits) throws(ProtocolError) -> Int {
        try FrameHeader(parsing: bytes, limits: limits).length
    }

    /// The 4 wire bytes.
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt32(length))
        return bytes
    }
}
