import NIOCore

/// One side of a tunnel relayed by SwiftNIO (scenario tunnels, and tunnels the ``TunnelRelay`` could not take):
/// forwards what its channel reads to the partner's channel.
///
/// Backpressure: a side only asks its channel to read while the partner's channel is writable (NIO's glue
/// pattern), so a slow reader on one end stops reads on the other instead of buffering.
///
/// Half-close: an end of input on one side becomes a shutdown of the partner's output, but only once every byte
/// queued before it has been written. NIO escalates `close(mode: .output)` to a full close — failing whatever is
/// still queued — when the channel's input has already ended, so the output is shut only after an empty write
/// flushed behind the queued bytes has completed.
///
/// Teardown: when one side closes completely, the partner flushes what it holds and closes too. A partner whose
/// peer stops reading would hold its descriptor and buffered bytes forever, so it is closed once its writes
/// make no progress for the close-flush timeout.
///
/// Byte counts in the access log are bytes whose write completed (handed to the kernel), not bytes read.
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
    private var flushWatchdog: Scheduled<Void>?
    private let record: RequestRecord
    private let isClientSide: Bool
    private let closeFlushTimeout: Duration
    private let closeLog: ConnectionCloseLog

    private init(record: RequestRecord, isClientSide: Bool, closeFlushTimeout: Duration, closeLog: ConnectionCloseLog) {
        self.record = record
        self.isClientSide = isClientSide
        self.closeFlushTimeout = closeFlushTimeout
        self.closeLog = closeLog
    }

    /// The client-side and target-side handlers of one tunnel.
    static func matchedPair(
        record: RequestRecord,
        closeFlushTimeout: Duration,
        closeLog: ConnectionCloseLog
    ) -> (client: GlueHandler, target: GlueHandler) {
        let client = GlueHandler(
            record: record,
            isClientSide: true,
            closeFlushTimeout: closeFlushTimeout,
            closeLog: closeLog
        )
        let target = GlueHandler(
            record: record,
            isClientSide: false,
            closeFlushTimeout: closeFlushTimeout,
            closeLog: closeLog
        )
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
        flushWatchdog?.cancel()
        flushWatchdog = nil
    }

    /// Sends `bytes` out of this side's channel (early client bytes, held target bytes).
    func writeAndFlush(_ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        partnerWrite(wrapOutboundOut(bytes))
        partnerFlush()
    }

    /// This side's input ended before the tunnel existed: pass the end of input on.
    func inputEndedEarlier() {
        partner?.partnerWriteEOF()
    }

    // MARK: Called by the partner

    private func countDelivered(_ count: Int) {
        if isClientSide { record.bytesDown += count } else { record.bytesUp += count }
    }

    private func partnerWrite(_ data: NIOAny) {
        guard let context else { return }
        let count = unwrapOutboundIn(data).readableBytes
        context.write(data).assumeIsolated().whenSuccess { self.countDelivered(count) }
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        guard let context, outputState == .open else { return }
        outputState = .closing
        // Completes after every byte queued before it: only then is shutting the output (or, when the input has
        // ended too, closing the channel) free of loss.
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { result in
            guard let context = self.context else { return }
            self.outputState = .closed
            if case .failure = result {
                context.close(promise: nil)
            } else if self.partnerGone {
                // Nothing can arrive for the partner any more: close instead of waiting for the peer's end.
                context.close(promise: nil)
            } else {
                context.close(mode: .output, promise: nil)
            }
        }
    }

    private func partnerClosed() {
        partnerGone = true
        switch outputState {
        case .open:
            partnerWriteEOF()
            armFlushWatchdog()
        case .closing:
            armFlushWatchdog()
        case .closed:
            context?.close(promise: nil)
        }
    }

    /// Closes this side when its queued writes stop draining for the close-flush timeout (a peer that no longer
    /// reads), so a tunnel whose other side has closed cannot hold a descriptor and its buffers forever.
    private func armFlushWatchdog(lastBuffered: Int? = nil) {
        guard let context else { return }
        let buffered = (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        if let lastBuffered, buffered >= lastBuffered {
            context.close(promise: nil)
            return
        }
        flushWatchdog = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(closeFlushTimeout)) {
            self.armFlushWatchdog(lastBuffered: buffered)
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
        closeLog.record(error, what: isClientSide ? "client" : "target", channel: context.channel)
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
