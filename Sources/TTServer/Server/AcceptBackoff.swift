import Glibc
import Logging
import NIOCore

/// Pauses a listener after `accept` fails, and says so in the log (at most once a second).
///
/// At the descriptor limit (`EMFILE`, `ENFILE`) or out of kernel memory the pending connection stays in the
/// backlog and the listening socket stays readable, so retrying at once spins a core on failing `accept4`. NIO's
/// `AcceptBackoffHandler` cannot help here: it delays the *next* `read()`, but a failed accept leaves the server
/// channel's read pending, so no further `read()` comes through the pipeline and the socket stays registered for
/// readability. This handler turns `autoRead` off instead (which unregisters the socket) and back on after the
/// pause. `ServerBootstrap.bind(host:port:)` installs no backoff at all, so the server adds this one to every
/// listener.
final class AcceptBackoff: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel

    /// How long a listener pauses after a failed accept.
    static let delay = TimeAmount.milliseconds(250)

    private let logger: Logger
    private let limiter: LogLimiter
    private var resume: Scheduled<Void>?

    init(logger: Logger, limiter: LogLimiter) {
        self.logger = logger
        self.limiter = limiter
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError else {
            context.fireErrorCaught(error)
            return
        }
        limiter.log(
            logger,
            level: .warning,
            "accept failed, pausing the listener",
            metadata: [
                "reason": "\(error)",
                "pause": "\(Self.delay.nanoseconds / 1_000_000) ms",
                "hint": "\(Self.hint(errno: error.errnoCode))",
            ],
            perSecond: 1
        )
        guard resume == nil, let options = context.channel.syncOptions else { return }
        do {
            try options.setOption(.autoRead, value: false)
        } catch {
            return
        }
        resume = context.eventLoop.assumeIsolated().scheduleTask(in: Self.delay) {
            self.resume = nil
            guard context.channel.isActive else { return }
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resume?.cancel()
        resume = nil
    }

    private static func hint(errno: Int32) -> String {
        switch errno {
        case EMFILE: "process file descriptor limit reached (ulimit -n); raise it or lower --max-connections"
        case ENFILE: "system-wide file limit reached"
        case ENOBUFS, ENOMEM: "kernel out of memory for sockets"
        default: "retrying after the pause"
        }
    }
}

@available(*, unavailable)
extension AcceptBackoff: Sendable {}
