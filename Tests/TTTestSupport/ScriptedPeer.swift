import NIOCore
import NIOPosix
import Synchronization
public import TTProtocol

/// A framework peer whose connections follow a script: each may answer its handshake late or never, answer
/// requests (Request OK, empty) late, and close after a number of answers, as a server that timed the session
/// out. Connection `n` follows `script[n]`, the last entry repeating. Counts the connections it accepted and the
/// requests it received.
public final class ScriptedPeer: Sendable, StoppableTestResource {
    /// What one connection does.
    public struct Connection: Sendable {
        /// When to send the server hello; `nil`: never (the handshake stalls).
        public var handshakeDelay: Duration?
        /// How long to wait before each answer.
        public var answerDelay: Duration
        /// Close the connection after this many answers; `nil`: keep it open.
        public var closeAfterAnswers: Int?
        /// The identity key this connection presents; `nil`: the one every connection of the peer shares.
        public var identity: ServerIdentity?

        public init(
            handshakeDelay: Duration? = .zero,
            answerDelay: Duration = .zero,
            closeAfterAnswers: Int? = nil,
            identity: ServerIdentity? = nil
        ) {
            self.handshakeDelay = handshakeDelay
            self.answerDelay = answerDelay
            self.closeAfterAnswers = closeAfterAnswers
            self.identity = identity
        }
    }

    private let channel: any Channel
    private let accepted: Counter
    /// The port it listens on (127.0.0.1).
    public let port: Int

    private init(channel: any Channel, accepted: Counter, port: Int) {
        self.channel = channel
        self.accepted = accepted
        self.port = port
    }

    /// How many connections it has accepted so far.
    public var connections: Int { accepted.value.withLock { $0 } }

    /// How many whole request frames it has received so far, on all connections (answered or still waiting).
    public var requests: Int { accepted.requests.withLock { $0 } }

    /// How long each connection that has ended was open, by connection number (`nil` while still open).
    public var lifetimes: [Int: Duration] { accepted.lifetimes.withLock { $0 } }

    /// Starts the peer on 127.0.0.1 port 0.
    public static func start(_ script: [Connection]) async throws -> ScriptedPeer {
        precondition(!script.isEmpty, "a script needs at least one connection")
        let identity = ServerIdentity.generate()
        let counter = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                let index = counter.next()
                let behaviour = script[min(index, script.count - 1)]
                let opened = ContinuousClock.now
                channel.closeFuture.whenComplete { _ in
                    counter.lifetimes.withLock { $0[index] = ContinuousClock.now - opened }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ScriptedPeerHandler(identity: behaviour.identity ?? identity, behaviour: behaviour) {
                            counter.requests.withLock { $0 += 1 }
                        }
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        // A listener that has no address any more was closed under the test (its descriptor cut by another): say
        // so here, not later as a tool refusing port 0.
        guard let port = channel.localAddress?.port, port > 0 else {
            try? await channel.close()
            throw ProcessRunError(description: "the scripted peer's listener was closed as it started")
        }
        return ScriptedPeer(channel: channel, accepted: counter, port: port)
    }

    /// Stops listening.
    public func stop() async {
        try? await channel.close()
    }

    private final class Counter: Sendable {
        let value = Mutex(0)
        let lifetimes = Mutex<[Int: Duration]>([:])
        let requests = Mutex(0)
        func next() -> Int {
            value.withLock { count in
                defer { count += 1 }
                return count
            }
        }
    }
}

private final class ScriptedPeerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let identity: ServerIdentity
    private let behaviour: ScriptedPeer.Connection
    private var received: [UInt8] = []
    private var codec: PacketCodec?
    private var helloSeen = false
    private var answers = 0
    private let onRequest: @Sendable () -> Void

    init(identity: ServerIdentity, behaviour: ScriptedPeer.Connection, onRequest: @escaping @Sendable () -> Void) {
        self.identity = identity
        self.behaviour = behaviour
        self.onRequest = onRequest
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        if !helloSeen, received.count >= Handshake.clientHelloSize {
            helloSeen = true
            let hello = Array(received.prefix(Handshake.clientHelloSize))
            received.removeFirst(Handshake.clientHelloSize)
            guard let delay = behaviour.handshakeDelay else { return }  // stall: never answer
            guard let (serverHello, keys) = try? ServerHandshake(identity: identity).respond(to: hello),
                let codec = try? PacketCodec(keys: keys)
            else {
                context.close(promise: nil)
                return
            }
            later(delay, context) { handler, context in
                handler.codec = codec
                context.writeAndFlush(handler.wrapOutboundOut(context.channel.allocator.buffer(bytes: serverHello)))
                    .whenComplete { _ in }
                handler.answerFrames(context)
            }
        }
        answerFrames(context)
    }

    /// Answers every whole request frame received so far.
    private func answerFrames(_ context: ChannelHandlerContext) {
        guard let codec else { return }
        while received.count >= FrameHeader.size {
            guard let header = try? codec.decodeHeader(Array(received.prefix(FrameHeader.size))) else {
                context.close(promise: nil)
                return
            }
            let total = FrameHeader.size + header.length
            guard received.count >= total else { return }
            let frame = Array(received.prefix(total))
            received.removeFirst(total)
            onRequest()
            guard (try? codec.decode(frame: frame)) != nil,
                let answer = try? codec.encode(.response(ResponsePacket(rc: .requestOK)))
            else {
                context.close(promise: nil)
                return
            }
            later(behaviour.answerDelay, context) { handler, context in
                handler.answers += 1
                let done = handler.behaviour.closeAfterAnswers.map { handler.answers >= $0 } ?? false
                let channel = context.channel
                context.writeAndFlush(handler.wrapOutboundOut(channel.allocator.buffer(bytes: answer)))
                    .whenComplete { _ in if done { channel.close(promise: nil) } }
            }
        }
    }

    /// Runs `body` on the event loop after `delay`.
    private func later(
        _ delay: Duration,
        _ context: ChannelHandlerContext,
        _ body: @escaping (ScriptedPeerHandler, ChannelHandlerContext) -> Void
    ) {
        let bound = NIOLoopBound((self, context, body), eventLoop: context.eventLoop)
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            let (handler, context, body) = bound.value
            body(handler, context)
        }
    }
}

@available(*, unavailable)
extension ScriptedPeerHandler: Sendable {}
