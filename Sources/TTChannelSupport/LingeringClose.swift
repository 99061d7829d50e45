package import NIOCore

/// The end of a session whose last answers are flushed: its output is shut down (TLS `close_notify`, then FIN,
/// after everything written), and what the peer still sends is read and discarded until it closes too, or until
/// the linger's time or byte bound, before the socket is closed.
///
/// Closing a socket whose receive buffer holds unread bytes makes Linux send a reset instead of a FIN, and a
/// reset throws away whatever the peer has not read yet (the server's last answers still in flight) and shows
/// as "connection reset" instead of an end of stream. A session can hold unread bytes when it closes: a request
/// that crossed the idle close on the wire, or requests a peer sent while the server held reading (a peer that
/// did not read its answers). With this handler those bytes are read, never run, and the peer sees every answer
/// that was sent, then end of stream. A peer that keeps sending is cut off at the bounds, with a reset.
///
/// It sits first in the pipeline, so the discarded bytes reach no decoder, no budget and no TLS handler; it asks
/// for reads itself, whatever the session held back. tt-server's sessions, its admin listener and tt-proxy's
/// refusals and scripted closes all end this way.
package final class LingeringClose: ChannelInboundHandler {
    package typealias InboundIn = ByteBuffer

    private let timeout: TimeAmount
    private let maxBytes: Int
    private var discarded = 0
    private var deadline: Scheduled<Void>?

    private init(timeout: TimeAmount, maxBytes: Int) {
        self.timeout = timeout
        self.maxBytes = maxBytes
    }

    /// Shuts the output of `channel` down and lingers; closes at once when the channel cannot half-close.
    /// Must run on the channel's event loop.
    ///
    /// An idle timer in the pipeline (`IdleStateHandler`) stops first: the bytes the linger drops never reach it, so
    /// an idle timeout shorter than the linger would close the connection in the middle of the drain, and the
    /// peer's next bytes would meet a reset. From here the linger's own bounds govern.
    package static func begin(on channel: any Channel, timeout: Duration, maxBytes: Int) {
        guard channel.isActive else {
            channel.close(promise: nil)
            return
        }
        let pipeline = channel.pipeline.syncOperations
        if let idle = try? pipeline.context(handlerType: IdleStateHandler.self) {
            pipeline.removeHandler(context: idle, promise: nil)
        }
        let handler = LingeringClose(timeout: TimeAmount(timeout), maxBytes: max(0, maxBytes))
        do {
            try pipeline.addHandler(handler, position: .first)
        } catch {
            channel.close(promise: nil)
            return
        }
        let shutDown = channel.eventLoop.makePromise(of: Void.self)
        // From the tail, so a TLS handler on the way sends its close_notify before the FIN.
        channel.close(mode: .output, promise: shutDown)
        shutDown.futureResult.whenFailure { _ in channel.close(promise: nil) }
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
        context.read()
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        discarded += unwrapInboundIn(data).readableBytes
        if discarded > maxBytes { context.close(promise: nil) }
    }

    package func channelReadComplete(context: ChannelHandlerContext) {
        // The session may hold reading back (a queue it had, a peer that did not read): the linger reads anyway.
        context.read()
    }

    package func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // With remote half-closure allowed (tt-proxy) the peer's FIN is an event, not a close: the linger is over.
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    package func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The session has logged why it closed; a reset from the peer now only ends the linger early.
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension LingeringClose: Sendable {}
