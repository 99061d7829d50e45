import NIOCore

/// A decoder that reads something once at the start of the stream (the TLS sniffer's first byte, a PROXY
/// header, the handshake), then leaves the pipeline, handing the bytes behind it to the next handler.
///
/// Removing a `ByteToMessageHandler` runs `decodeLast` with what it still buffers, so a decoder that is done
/// must pass those bytes on rather than judge them: ``passOnRest(context:buffer:)`` does that and ``leave(context:)``
/// starts the removal.
protocol OneShotDecoder: ByteToMessageDecoder where InboundOut == ByteBuffer {}

extension OneShotDecoder {
    /// Passes every buffered byte on to the next handler: call it from `decode` once done.
    func passOnRest(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        if let rest = buffer.readSlice(length: buffer.readableBytes), rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
        }
        return .needMoreData
    }

    /// Leaves the pipeline; the removal runs `decodeLast`, which passes the buffered bytes on.
    func leave(context: ChannelHandlerContext) -> DecodingState {
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        return .needMoreData
    }
}
