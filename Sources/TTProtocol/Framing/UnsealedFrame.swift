/// A compressed packet laid out for sealing in place, `[4 bytes][gzip][16 bytes]`: compression (slow, any
/// thread) and sealing (fast, must run in frame order on the connection's owner) can then happen apart
/// without copying the packet or the compressed bytes again.
///
/// ```swift
/// let unsealed = gzip.compressFrame(.response(response))   // e.g. on a thread pool
/// let frame = try sealer.seal(unsealed)                     // on the connection's event loop
/// ```
public struct UnsealedFrame: Sendable {
    fileprivate var bytes: [UInt8]
}

extension GzipCodec {
    /// Compresses `packet` (header and payload fed to zlib directly, never joined) into a buffer ready for
    /// ``FrameSealer/seal(_:)-(UnsealedFrame)``.
    public func compressFrame(_ packet: Packet) -> UnsealedFrame {
        let (header, payload) = packet.parts
        let bytes = header.withUnsafeBytes { header in
            payload.withUnsafeBytes { payload in
                compress(
                    parts: [header, payload],
                    prefix: FrameHeader.size,
                    suffix: FrameHeader.tagSize,
                    memoize: packet.mayBeMemoized
                )
            }
        }
        return UnsealedFrame(bytes: bytes)
    }
}

extension FrameSealer {
    /// Seals a frame made by ``GzipCodec/compressFrame(_:)`` in place: `[length][ciphertext][tag]`.
    /// - Throws: ``ProtocolError/frameTooLarge`` when the frame would exceed `maxFrameSize` (nothing is sealed
    ///   and the counter does not move), ``ProtocolError/counterExhausted`` after 2^64 - 1 frames.
    public func seal(_ frame: consuming UnsealedFrame) throws(ProtocolError) -> [UInt8] {
        try sealInPlace(&frame.bytes)
        return frame.bytes
    }
}
