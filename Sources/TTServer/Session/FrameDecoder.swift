import NIOCore
import TTProtocol

/// One sealed frame as read from the wire: its validated length prefix and its ciphertext plus tag.
struct SealedFrame: Equatable {
    var header: FrameHeader
    var body: [UInt8]

    /// Bytes the frame took on the wire, as charged to the session's ``SessionAllowance``.
    var wireSize: Int { FrameHeader.size + header.length }
}

/// Splits the byte stream into frames (PROTOCOL.md §2).
///
/// The length is checked as soon as its 4 bytes are in, so an oversized or undersized frame (and, before login,
/// one above the pre-login limit) closes the connection before a single body byte is buffered. Every byte it
/// buffers is charged to the session's ``SessionAllowance`` as it arrives; a complete frame takes its bytes along
/// to the ``SessionHandler``, which gives them back once it has taken the frame off its queue. A started frame
/// must be complete within the frame timeout.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = SealedFrame

    let limits: ProtocolLimits
    let allowance: SessionAllowance
    /// Bytes of the input buffer charged to the allowance.
    private var accounted = 0

    init(limits: ProtocolLimits, allowance: SessionAllowance) {
        self.limits = limits
        self.allowance = allowance
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try account(buffer.readableBytes)
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            return waitForMore(context: context, buffered: buffer.readableBytes)
        }
        let header = try FrameHeader(length: length, limits: limits)
        if !allowance.loggedIn, header.length > allowance.preLoginMaxPacketSize {
            throw SessionFailure.frameTooLargeBeforeLogin(length: header.length, limit: allowance.preLoginMaxPacketSize)
        }
        guard buffer.readableBytes >= FrameHeader.size + header.length else {
            return waitForMore(context: context, buffered: buffer.readableBytes)
        }
        buffer.moveReaderIndex(forwardBy: FrameHeader.size)
        guard let body = buffer.readBytes(length: header.length) else { return .needMoreData }
        let frame = SealedFrame(header: header, body: body)
        // The bytes now belong to the frame; the session handler gives them back.
        accounted -= frame.wireSize
        allowance.cancelFrameDeadline()
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw SessionFailure.truncatedFrame(buffered: buffer.readableBytes)
        }
        return .needMoreData
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        allowance.remove(accounted)
        accounted = 0
        allowance.cancelFrameDeadline()
    }

    /// Brings the charge for the input buffer up (or down) to what it holds.
    private mutating func account(_ buffered: Int) throws {
        if buffered > accounted {
            guard allowance.add(buffered - accounted) else {
                throw SessionFailure.bufferBudgetExhausted(holding: allowance.held, asked: buffered - accounted)
            }
        } else if buffered < accounted {
            allowance.remove(accounted - buffered)
        }
        accounted = buffered
    }

    /// A frame has begun but is not complete: it has until the frame deadline.
    private func waitForMore(context: ChannelHandlerContext, buffered: Int) -> DecodingState {
        if buffered > 0 {
            let timeout = allowance.frameTimeout
            allowance.armFrameDeadline(on: context.eventLoop) {
                context.fireErrorCaught(SessionFailure.frameTimeout(seconds: Double(timeout.nanoseconds) / 1e9))
            }
        }
        return .needMoreData
    }
}
