import NIOCore

/// Pauses a listener's accepts for a while after `accept` fails (EMFILE at the descriptor limit, ENFILE…) and
/// reports the failure, instead of retrying at once, forever, at 100 % of a core.
///
/// NIO's own `AcceptBackoffHandler` does not help here: it holds back the next `read`, but after a failed
/// `accept4` the server channel's read is still pending, so it stays registered for readability and the
/// level-triggered epoll wakes it again at once (measured: about 5,000 failing `accept4` calls a second).
/// Turning `autoRead` off unregisters it; turning it back on after the pause retries.
final class AcceptPauseHandler: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let log: AcceptFailureLog
    private var paused = false

    init(log: AcceptFailureLog) {
        self.log = log
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError else {
            context.fireErrorCaught(error)
            return
        }
        log.record(error, listener: context.channel.localAddress)
        guard !paused, let options = context.channel.syncOptions else { return }
        paused = true
        try? options.setOption(ChannelOptions.autoRead, value: false)
        let channel = context.channel
        context.eventLoop.assumeIsolated().scheduleTask(in: AcceptFailureLog.backoff) {
            self.paused = false
            guard channel.isActive else { return }
            try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }
    }
}

@available(*, unavailable)
extension AcceptPauseHandler: Sendable {}
