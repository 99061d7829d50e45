import NIOCore
import NIOPosix

/// A TCP echo server on an ephemeral loopback port: the tunnel target for transport and proxy tests.
///
/// It echoes every byte back and mirrors half-close (when the client shuts down its write side, the server
/// closes after flushing), so byte-exact round trips and half-close can both be asserted. With a `greeting`
/// it speaks first, which exercises bytes arriving together with a proxy's `200`.
public final class EchoServer: Sendable {
    private let channel: any Channel

    /// The port the server listens on.
    public let port: Int
    /// The address the server listens on (`127.0.0.1` or `::1`).
    public let host: String

    private init(channel: any Channel, host: String, port: Int) {
        self.channel = channel
        self.host = host
        self.port = port
    }

    /// Starts an echo server.
    /// - Parameters:
    ///   - host: `127.0.0.1` (default) or `::1`.
    ///   - greeting: bytes sent to every client as soon as it connects.
    ///   - closeAfterGreeting: close each connection once the greeting is sent (a target that hangs up).
    public static func start(
        host: String = "127.0.0.1",
        greeting: [UInt8] = [],
        closeAfterGreeting: Bool = false
    ) async throws -> EchoServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        EchoHandler(greeting: greeting, closeAfterGreeting: closeAfterGreeting)
                    )
                }
            }
            .bind(host: host, port: 0)
            .get()
        return EchoServer(channel: channel, host: host, port: channel.localAddress?.port ?? 0)
    }

    /// Stops listening. Open connections finish on their own.
    public func stop() async {
        try? await channel.close()
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let greeting: [UInt8]
    private let closeAfterGreeting: Bool

    init(greeting: [UInt8], closeAfterGreeting: Bool) {
        self.greeting = greeting
        self.closeAfterGreeting = closeAfterGreeting
    }

    func channelActive(context: ChannelHandlerContext) {
        if !greeting.isEmpty || closeAfterGreeting {
            let channel = context.channel
            let close = closeAfterGreeting
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: greeting))).whenComplete { _ in
                if close { channel.close(promise: nil) }
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // Writes complete in order, so closing after this empty write never drops echoed bytes.
            let flushed = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: flushed)
            let channel = context.channel
            flushed.futureResult.whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension EchoHandler: Sendable {}
