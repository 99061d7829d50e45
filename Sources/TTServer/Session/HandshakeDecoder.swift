import NIOCore
import TTProtocol

/// The first stage of a session: reads the 70-byte ClientHello within the handshake deadline, answers with the
/// ServerHello, then hands the stream to a ``FrameDecoder`` and removes itself.
///
/// The magic and version are checked as soon as their bytes arrive, so an HTTP request or other garbage is
/// refused without waiting for 70 bytes or the deadline. Bytes a client sends right behind its hello are
/// forwarded to the frame decoder when this decoder leaves the pipeline.
struct HandshakeDecoder: OneShotDecoder {
    typealias InboundOut = ByteBuffer

    private let identity: ServerIdentity
    private let limits: ProtocolLimits
    private let allowance: SessionAllowance
    private var deadline: Scheduled<Void>?
    private(set) var isDone = false
    var truncation: (any Error)? { ProtocolError.truncatedHello }

    init(identity: ServerIdentity, limits: ProtocolLimits, allowance: SessionAllowance) {
        self.identity = identity
        self.limits = limits
        self.allowance = allowance
    }

    mutating func decoderAdded(context: ChannelHandlerContext) {
        let timeout = limits.handshakeTimeout
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            context.fireErrorCaught(SessionFailure.handshakeTimeout(seconds: SessionHandler.seconds(timeout)))
        }
    }

    mutating func decoderRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    mutating func decodeOnce(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let prefixLength = min(buffer.readableBytes, Handshake.magic.count + 2)
        try Handshake.validatePrefix(buffer.getBytes(at: buffer.readerIndex, length: prefixLength) ?? [])
        guard let hello = buffer.readBytes(length: Handshake.clientHelloSize) else { return .needMoreData }

        let (serverHello, keys) = try ServerHandshake(identity: identity).respond(to: hello)
        deadline?.cancel()
        deadline = nil
        isDone = true
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: serverHello)), promise: nil)
        try context.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(FrameDecoder(limits: limits, allowance: allowance)),
            position: .after(context.handler)
        )
        context.fireUserInboundEventTriggered(HandshakeCompletedEvent(keys: keys))
        return leave(context: context)
    }
}
