internal import CCrypto

/// Opens the frames of one direction in order; any frame out of sequence, altered or sealed with another key
/// fails authentication.
///
/// Not thread-safe: one connection owns one opener (on its event loop or owner thread).
public final class FrameOpener {
    private let context: OpaquePointer
    /// Number of frames opened so far: the counter the next frame must have been sealed with.
    public private(set) var counter: UInt64 = 0

    /// - Parameters:
    ///   - key: 32-byte AES-256 key.
    ///   - iv: 12-byte base IV.
    public init(key: [UInt8], iv: [UInt8]) throws(ProtocolError) {
        guard key.count == 32, iv.count == 12, let context = CCrypto_aeadCreate(key, iv, 0) else {
            throw ProtocolError.cryptoFailure.with(detail: "AES-256-GCM opening context")
        }
        self.context = context
    }

    /// An opener for the frames this side receives.
    public convenience init(keys: SessionKeys) throws(ProtocolError) {
        try self.init(key: keys.receiveKey, iv: keys.receiveIV)
    }

    deinit { CCrypto_aeadDestroy(context) }

    /// Authenticates and decrypts one frame body (`header.length` bytes: ciphertext then tag).
    /// - Throws: ``ProtocolError/authenticationFailed`` (also when the body is not `header.length` bytes).
    public func open(header: FrameHeader, body: UnsafeRawBufferPointer) throws(ProtocolError) -> [UInt8] {
        guard body.count == header.length, header.length >= FrameHeader.tagSize else {
            throw ProtocolError.authenticationFailed.with(
                detail: "body of \(body.count) bytes, header says \(header.length)"
            )
        }
        guard counter < UInt64.max else { throw ProtocolError.counterExhausted }
        let plaintextLength = header.length - FrameHeader.tagSize
        // The 4 length bytes, big-endian, on the stack.
        var aad = UInt32(header.length).bigEndian
        var ok = false
        let plaintext = [UInt8](unsafeUninitializedCapacity: max(plaintextLength, 1)) { buffer, initialized in
            let input = body.baseAddress!.assumingMemoryBound(to: UInt8.self)
            ok = withUnsafeBytes(of: &aad) { aad in
                CCrypto_aeadOpen(
                    context,
                    counter,
                    aad.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    aad.count,
                    input,
                    plaintextLength,
                    input + plaintextLength,
                    buffer.baseAddress
                ) == 1
            }
            initialized = ok ? plaintextLength : 0
        }
        guard ok else { throw ProtocolError.authenticationFailed.with(detail: "frame \(counter)") }
        counter += 1
        return plaintext
    }

    /// Authenticates and decrypts one frame body.
    public func open(header: FrameHeader, body: [UInt8]) throws(ProtocolError) -> [UInt8] {
        let result = body.withUnsafeBytes { body in
            Result { () throws(ProtocolError) in try open(header: header, body: body) }
        }
        return try result.get()
    }
}

@available(*, unavailable)
extension FrameOpener: Sendable {}
