import NIOCore

/// One side of a tunnel: forwards what its channel reads to the partner's channel.
///
/// Backpressure: a side only asks its channel to read while the partner's channel is writable (NIO's glue
/// pattern), so a slow reader on one end stops reads on the other instead of buffering. Half-close: an end of
/// input on one side becomes a shutdown of the partner's output once everything before it is written; when a side
/// closes completely the partner flushes what it holds and closes too.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum OutputState { case open, closing, closed }

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var outputState = OutputState.open
    private var partnerGone = false
    private let record: RequestRecord
    private let isClientSide: Bool

    private init(record: RequestRecord, isClientSide: Bool) {
        self.record = record
        self.isClientSide = isClientSide
    }

    /// The client-side and target-side handlers of one tunnel.
    static func matchedPair(record: RequestRecord) -> (client: GlueHandler, target: GlueHandler) {
        let client = GlueHandler(record: record, isClientSide: true)
        let target = GlueHandler(record: record, isClientSide: false)
        client.partner = target
        target.partner = client
        return (client, target)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    /// Sends `bytes` out of this side's channel (early client bytes, held target bytes).
    func writeAndFlush(_ bytes: ByteBuffer) {
        guard let context, bytes.readableBytes > 0 else { return }
        countOutbound(bytes.readableBytes)
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    /// This side's input ended before the tunnel existed: pass the end of input on.
    func inputEndedEarlier() {
        partner?.partnerWriteEOF()
    }

    // MARK: Called by the partner

    private func countOutbound(_ count: Int) {
        if isClientSide { record.bytesDown += count } else { record.bytesUp += count }
    }

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        guard let context, outputState == .open else { return }
        outputState = .closing
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            self.outputState = .closed
            if self.partnerGone { self.context?.close(promise: nil) }
        }
    }

    private func partnerClosed() {
        partnerGone = true
        switch outputState {
        case .open: partnerWriteEOF()
        case .closing: break
        case .closed: context?.close(promise: nil)
        }
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var isWritable: Bool {
        context?.channel.isWritable ?? false
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.countOutbound(unwrapInboundIn(data).readableBytes)
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClosed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            partner?.partnerWriteEOF()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or I/O error on one side ends the tunnel; the partner flushes and closes when this side is gone.
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}
