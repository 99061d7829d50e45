import NIOCore
import TTProtocol

/// One sealed frame as read from the wire: its validated length prefix and its ciphertext plus tag.
struct SealedFrame {
    var header: FrameHeader
    var body: [UInt8]
}

/// Splits the byte stream into frames (PROTOCOL.md §2).
///
/// The length is checked as soon as its 4 bytes are in, so an oversized or undersized frame closes the
/// connection before a single body byte is buffered.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = SealedFrame

    let limits: ProtocolLimits

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            return .needMoreData
        }
        let header = try FrameHeader(length: length, limits: limits)
        guard buffer.readableBytes >= FrameHeader.size + header.length else {
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: FrameHeader.size)
        guard let body = buffer.readBytes(length: header.length) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(SealedFrame(header: header, body: body)))
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
}
