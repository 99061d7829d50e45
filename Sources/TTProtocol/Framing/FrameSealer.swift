internal import CCrypto

/// Seals the frames of one direction: AES-256-GCM with the key set up once and the nonce of frame `n` derived
/// from the base IV and a counter that is never reused.
///
/// Not thread-safe: one connection owns one sealer (on its event loop or owner thread).
public final class FrameSealer {
    private let context: OpaquePointer
    private let limits: ProtocolLimits
    /// Number of frames sealed so far: the counter of the next frame.
    public private(set) var counter: UInt64 = 0

    /// - Parameters:
    ///   - key: 32-byte AES-256 key.
    ///   - iv: 12-byte base IV.
    ///   - limits: Bounds the frame length produced.
    public init(key: [UInt8], iv: [UInt8], limits: ProtocolLimits = .default) throws(ProtocolError) {
        guard key.count == 32, iv.count == 12, let context = CCrypto_aeadCreate(key, iv, 1) else {
            throw ProtocolError.cryptoFailure.with(detail: "AES-256-GCM sealing context")
        }
        self.context = context
        self.limits = limits
    }

    /// A sealer for the frames this side sends.
    public convenience init(keys: SessionKeys, limits: ProtocolLimits = .default) throws(ProtocolError) {
        try self.init(key: keys.sendKey, iv: keys.sendIV, limits: limits)
    }

    deinit { CCrypto_aeadDestroy(context) }

    /// Seals `plaintext` into a whole frame: `[length][ciphertext][tag]`.
    /// - Throws: ``ProtocolError/frameTooLarge`` when the frame would exceed `maxFrameSize`,
    ///   ``ProtocolError/counterExhausted`` after 2^64 - 1 frames.
    public func seal(_ plaintext: [UInt8]) throws(ProtocolError) -> [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(FrameHeader.size + plaintext.count + FrameHeader.tagSize)
        frame.append(contentsOf: [0, 0, 0, 0])
        frame.append(contentsOf: plaintext)
        frame.append(contentsOf: repeatElement(0, count: FrameHeader.tagSize))
        try sealInPlace(&frame)
        return frame
    }

    /// Seals a frame buffer laid out as `[4 bytes][plaintext][16 bytes]` in place: writes the length, encrypts
    /// the plaintext over itself and writes the tag.
    func sealInPlace(_ frame: inout [UInt8]) throws(ProtocolError) {
        let length = frame.count - FrameHeader.size
        guard length <= limits.maxFrameSize else {
            throw ProtocolError.frameTooLarge.with(detail: "length \(length), limit \(limits.maxFrameSize)")
        }
        guard counter < UInt64.max else { throw ProtocolError.counterExhausted }
        let plaintextLength = length - FrameHeader.tagSize
        let ok = frame.withUnsafeMutableBufferPointer { frame -> Bool in
            let base = frame.baseAddress!
            base[0] = UInt8(truncatingIfNeeded: length >> 24)
            base[1] = UInt8(truncatingIfNeeded: length >> 16)
            base[2] = UInt8(truncatingIfNeeded: length >> 8)
            base[3] = UInt8(truncatingIfNeeded: length)
            let body = base + FrameHeader.size
            return CCrypto_aeadSeal(
                context,
                counter,
                base,
                FrameHeader.size,
                body,
                plaintextLength,
                body,
                body + plaintextLength
            ) == 1
        }
        guard ok else { throw ProtocolError.cryptoFailure.with(detail: "AES-256-GCM seal") }
        counter += 1
    }
}

@available(*, unavailable)
extension FrameSealer: Sendable {}
