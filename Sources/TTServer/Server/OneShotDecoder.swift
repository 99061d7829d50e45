import NIOCore

/// A decoder that reads something once at the start of the stream (the TLS sniffer's first byte, a PROXY
/// header, the handshake), then leaves the pipeline, handing the bytes behind it to the next handler.
///
/// Removing a `ByteToMessageHandler` runs `decodeLast` with what it still buffers, and bytes may arrive between
/// the decision and the removal: once ``isDone``, both pass every byte on instead of judging it. A connection
/// that ends before it is done fails with ``truncation``.
protocol OneShotDecoder: ByteToMessageDecoder where InboundOut == ByteBuffer {
    /// Whether it has read what it came for; from then on it only passes bytes on.
    var isDone: Bool { get }
    /// The error for a connection that ends inside what it reads; `nil` judges those bytes as they are.
    var truncation: (any Error)? { get }
    /// Reads what it came for from the start of `buffer`; once it has, sets ``isDone`` and returns
    /// ``leave(context:)``.
    mutating func decodeOnce(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState
}

extension OneShotDecoder {
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard isDone else { return try decodeOnce(context: context, buffer: &buffer) }
        if let rest = buffer.readSlice(length: buffer.readableBytes), rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
        }
        return .needMoreData
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        guard !isDone, buffer.readableBytes > 0, let truncation else {
            return try decode(context: context, buffer: &buffer)
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        throw truncation
    }

    /// Leaves the pipeline; the removal runs `decodeLast`, which passes the buffered bytes on.
    func leave(context: ChannelHandlerContext) -> DecodingState {
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        return .needMoreData
    }
}
