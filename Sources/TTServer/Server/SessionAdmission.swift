import Logging
import NIOCore
import TTBasics

/// Admits accepted connections up to the server's connection cap in the order the listener accepts them, and
/// refuses the others at once (over the cap, or while shutting down).
///
/// It runs on the listener's event loop, before NIO hands each connection to its own event loop. Counted in the
/// child initializer instead (which runs on that loop), a connection accepted later could be counted first on a
/// loaded machine and take the place of one accepted before it.
final class SessionAdmission: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let registry: ConnectionRegistry<any Channel>
    private let refusals: SessionRefusals

    init(registry: ConnectionRegistry<any Channel>, refusals: SessionRefusals) {
        self.registry = registry
        self.refusals = refusals
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let accepted = unwrapInboundIn(data)
        let id = ObjectIdentifier(accepted)
        let admission = registry.admit(accepted, id: id)
        if admission != .shuttingDown {
            let registry = self.registry
            accepted.closeFuture.whenComplete { _ in registry.remove(id: id) }
        }
        switch admission {
        case .admitted:
            context.fireChannelRead(data)
        case .overLimit:
            refusals.record(accepted, reason: "max connections (\(registry.count - 1)) reached")
            accepted.close(promise: nil)
        case .shuttingDown:
            refusals.record(accepted, reason: "shutting down", level: .info, counted: false)
            accepted.close(promise: nil)
        }
    }
}

/// What the server records when it refuses a connection it will not serve: a log line (rate-limited; peer-facing
/// refusals log at notice) and the refusal metric.
struct SessionRefusals: Sendable {
    let logger: Logger
    let limiter: LogLimiter
    let metrics: ServerMetrics

    /// Logs and counts the refusal of `channel`; the caller closes it.
    func record(_ channel: any Channel, reason: String, level: Logger.Level = .notice, counted: Bool = true) {
        if counted { metrics.connectionRefused() }
        let peer = channel.remoteAddress.map(FrameworkServer.format) ?? "unknown"
        limiter.log(logger, level: level, "connection refused", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
    }
}
