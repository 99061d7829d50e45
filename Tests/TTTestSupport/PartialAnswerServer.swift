import NIOCore
import NIOPosix
import Synchronization
public import TTProtocol

/// A framework peer that completes the handshake, then answers every request with only the first `answerBytes`
/// bytes of a frame (at most 1,028; the header comes first) and closes: the connection breaks in the middle of an answer, after the server may have acted
/// on the request. Counts the connections it accepted.
public final class PartialAnswerServer: Sendable {
    private let channel: any Channel
    private let accepted: ConnectionCounter

    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// Its identity.
    public let identity: ServerIdentity

    private init(channel: any Channel, accepted: ConnectionCounter, identity: ServerIdentity) {
        self.channel = channel
        self.accepted = accepted
        self.identity = identity
        self.port = channel.localAddress?.port ?? 0
    }

    /// How many connections it has accepted so far.
    public var connections: Int { accepted.value.withLock { $0 } }

    /// Starts the server.
    public static func start(answerBytes: Int = 2) async throws -> PartialAnswerServer {
        let identity = ServerIdentity.generate()
        let counter = ConnectionCounter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                counter.value.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        PartialAnswerHandler(identity: identity, answerBytes: answerBytes)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return PartialAnswerServer(channel: channel, accepted: counter, identity: identity)
    }

    /// Stops listening.
    public func stop() async {
        try? await channel.close()
    }
}

private final class ConnectionCounter: Sendable {
    let value = Mutex(0)
}

private final class PartialAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let identity: ServerIdentity
    private let answerBytes: Int
    private var received: [UInt8] = []
    private var handshakeDone = false

    init(identity: ServerIdentity, answerBytes: Int) {
        self.identity = identity
        self.answerBytes = answerBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        if !handshakeDone, received.count >= Handshake.clientHelloSize {
            let hello = Array(received.prefix(Handshake.clientHelloSize))
            received.removeFirst(Handshake.clientHelloSize)
            handshakeDone = true
            guard let (serverHello, _) = try? ServerHandshake(identity: identity).respond(to: hello) else {
                context.close(promise: nil)
                return
            }
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: serverHello)), promise: nil)
        }
        if handshakeDone, !received.isEmpty {
            // The start of a frame whose header announces a 1,024-byte body: a few bytes are part of the header,
            // more are part of the body, and the body never completes.
            let frame = [0, 0, 0x04, 0x00] + [UInt8](repeating: 0, count: 1024)
            let partial = context.channel.allocator.buffer(bytes: frame.prefix(answerBytes))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(partial)).whenComplete { _ in channel.close(promise: nil) }
            received.removeAll()
        }
    }
}

@available(*, unavailable)
extension PartialAnswerHandler: Sendable {}
