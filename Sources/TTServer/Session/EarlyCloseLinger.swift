import NIOCore
import TTChannelSupport

/// Makes the closes of a connection whose framework handshake has not completed end in a ``LingeringClose`` too,
/// from below the TLS handler: a TLS handshake that fails (its alert written) or does not complete in time.
///
/// NIO's TLS handler closes the connection itself when the TLS handshake fails, at once, after writing its alert;
/// a client that had sent more than the server read (early data, more requests, bytes that are not TLS) then got
/// a reset instead of the end of stream, and a reset may destroy the alert before the client reads it. This handler
/// sits at the socket's end of the pipeline, so every full close passes it: it flushes what was written (the
/// alert), then lingers within the session's bounds. A close that arrives while that linger runs is the linger's:
/// the connection ends when it does. The session removes this handler once the framework handshake completes;
/// from then on its own close lingers.
final class EarlyCloseLinger: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let flushTimeout: Duration
    private let lingerTimeout: Duration
    private let lingerMaxBytes: Int
    private var lingering = false

    init(configuration: ServerConfiguration) {
        self.flushTimeout = configuration.closeFlushTimeout
        self.lingerTimeout = configuration.closeLingerTimeout
        self.lingerMaxBytes = configuration.closeLingerMaxBytes
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        if lingering {
            // The TLS handler closing after the failure it reported, or the linger's own fallback: the linger
            // ends the connection, within its bounds.
            promise.map { context.channel.closeFuture.cascade(to: $0) }
            return
        }
        if (try? context.pipeline.syncOperations.handler(type: LingeringClose.self)) != nil {
            // The session's own linger runs (it flushed first): a close now ends it, as it would without this.
            context.close(mode: mode, promise: promise)
            return
        }
        lingering = true
        promise.map { context.channel.closeFuture.cascade(to: $0) }
        let channel = context.channel
        // Only a few handshake bytes can be waiting; a peer that does not take them must not hold its slot.
        let hardClose = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(flushTimeout)) {
            context.close(promise: nil)
        }
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: flushed)
        let timeout = lingerTimeout
        let maxBytes = lingerMaxBytes
        flushed.futureResult.assumeIsolated().whenComplete { result in
            hardClose.cancel()
            switch result {
            case .success: LingeringClose.begin(on: channel, timeout: timeout, maxBytes: maxBytes)
            case .failure: context.close(promise: nil)
            }
        }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        // A handshake that completes while the connection is closing stays closing: the linger needs this context.
        guard !lingering else { return }
        context.leavePipeline(removalToken: removalToken)
    }
}

@available(*, unavailable)
extension EarlyCloseLinger: Sendable {}
