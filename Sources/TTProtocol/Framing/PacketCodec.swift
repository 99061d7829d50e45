/// Packets to frames and back for one connection: gzip level 9, then AES-256-GCM with a per-direction counter.
///
/// Not thread-safe: one connection owns one codec (on its event loop or owner thread).
public final class PacketCodec {
    private let sealer: FrameSealer
    private let opener: FrameOpener
    private let gzip: GzipCodec
    /// The limits enforced on incoming frames and packets.
    public let limits: ProtocolLimits

    /// - Parameters:
    ///   - keys: This side's session keys (from the handshake).
    ///   - limits: Frame and inflated-size bounds.
    ///   - gzip: Compression settings (parallel threshold).
    public init(
        keys: SessionKeys,
        limits: ProtocolLimits = .default,
        gzip: GzipCodec = GzipCodec()
    )
        throws(ProtocolError)
    {
        sealer = try FrameSealer(keys: keys, limits: limits)
        opener = try FrameOpener(keys: keys)
        self.gzip = gzip
        self.limits = limits
    }

    /// Encodes `packet` into one whole frame, ready to write: `[length][ciphertext][tag]`.
    /// - Throws: ``ProtocolError/frameTooLarge`` when the compressed packet does not fit `maxFrameSize`.
    public func encode(_ packet: Packet) throws(ProtocolError) -> [UInt8] {
        let (header, payload) = packet.parts
        var frame = header.withUnsafeBytes { header in
            payload.withUnsafeBytes { payload in
                gzip.compress(
                    parts: [header, payload],
                    prefix: FrameHeader.size,
                    suffix: FrameHeader.tagSize,
                    memoize: packet.mayBeMemoized
                )
            }
        }
        try sealer.sealInPlace(&frame)
        return frame
    }

    /// Validates the 4 length bytes of the next incoming frame and returns its header.
    /// - Throws: ``ProtocolError/frameTooSmall`` or ``ProtocolError/frameTooLarge``.
    public func decodeHeader(_ bytes: [UInt8]) throws(ProtocolError) -> FrameHeader {
        try FrameHeader(parsing: bytes, limits: limits)
    }

    /// Decodes one frame body (`header.length` bytes) into a packet.
    /// - Throws: ``ProtocolError`` of kind `.frameRejected`, `.decompression` or `.malformedPacket`.
    public func decode(header: FrameHeader, body: UnsafeRawBufferPointer) throws(ProtocolError) -> Packet {
        let compressed = try opener.open(header: header, body: body)
        let plaintext = try gzip.decompress(compressed, limit: limits.maxInflatedSize)
        return try Packet(parsing: plaintext)
    }

    /// Decodes one frame body (`header.length` bytes) into a packet.
    /// - Throws: ``ProtocolError`` of kind `.frameRejected`, `.decompression` or `.malformedPacket`.
    public func decode(header: FrameHeader, body: [UInt8]) throws(ProtocolError) -> Packet {
        let result = body.withUnsafeBytes { body in
            Result { () throws(ProtocolError) in try decode(header: header, body: body) }
        }
        return try result.get()
    }

    /// Decodes one whole frame (`[length][ciphertext][tag]`) into a packet.
    /// - Throws: Any ``ProtocolError`` of ``decodeHeader(_:)`` and `decode(header:body:)`.
    public func decode(frame: [UInt8]) throws(ProtocolError) -> Packet {
        // Header and body read in place: copying them into arrays of their own cost two allocations and a copy
        // of the whole frame.
        let header = try FrameHeader(parsing: frame.prefix(FrameHeader.size), limits: limits)
        let result = frame.withUnsafeBytes { frame in
            Result { () throws(ProtocolError) in
                try decode(header: header, body: UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...]))
            }
        }
        return try result.get()
    }
}

@available(*, unavailable)
extension PacketCodec: Sendable {}
