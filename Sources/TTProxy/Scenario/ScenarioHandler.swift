import Glibc
import NIOCore
import NIOPosix

/// Runs a ``Scenario`` on one client connection: reads a request head, then performs the steps in order.
final class ScenarioHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode { case readingHead, running, discarding, draining, tunnelling, closed }

    /// How long `await-target-bytes` waits before going on without them.
    private static let targetBytesWait = TimeAmount.seconds(3)
    /// Client bytes kept for the tunnel while a scenario runs; more are dropped.
    private static let pendingLimit = 1 << 20
    /// `expect-auth` rounds one connection may take.
    private static let maxRounds = 16

    private let steps: [Scenario.Step]
    private let configuration: ProxyServerConfiguration
    private let closeLog: ConnectionCloseLog
    private var mode = Mode.readingHead
    private var parser: RequestHeadParser
    private var pending: ByteBuffer?
    private var head: RequestHead?
    private var programCounter = 0
    private var rounds = 0
    private var peer: (any Channel)?
    private var targetBuffer: TargetBufferHandler?
    private var held: ByteBuffer?
    /// The client finished sending while the scenario ran; the tunnel passes the end on after `pending`.
    private var inputEnded = false
    private var record: RequestRecord?

    init(scenario: Scenario, configuration: ProxyServerConfiguration, closeLog: ConnectionCloseLog) {
        self.steps = scenario.steps
        self.configuration = configuration
        self.closeLog = closeLog
        self.parser = RequestHeadParser(limit: configuration.maxHeadBytes)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch mode {
        case .readingHead:
            parser.append(&bytes)
            processHead(context: context)
        case .running:
            if pending == nil {
                pending = bytes
            } else if pending!.readableBytes + bytes.readableBytes <= Self.pendingLimit {
                pending!.writeBuffer(&bytes)
            }
        case .discarding, .draining, .closed:
            break
        case .tunnelling:
            context.fireChannelRead(data)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputEnded = true
            if mode != .running { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if mode != .tunnelling {
            peer?.close(promise: nil)
            record?.finish()
        }
        mode = .closed
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeLog.record(error, what: "client", channel: context.channel)
        context.close(promise: nil)
    }

    private func processHead(context: ChannelHandlerContext) {
        guard let result = parser.next() else { return }
        switch result {
        case .tooLarge:
            begin(context: context, requestLine: "(request head over \(configuration.maxHeadBytes) bytes)")
            lingeringClose(context: context)
        case .head(let parsed, let lines):
            begin(context: context, requestLine: lines.first.map(String.init) ?? "")
            head = parsed
            pending = parser.takeRemainder()
            mode = .running
            run(context: context)
        }
    }

    private func begin(context: ChannelHandlerContext, requestLine: String) {
        record = RequestRecord(
            client: context.channel.remoteAddress?.logDescription ?? "unknown",
            requestLine: requestLine,
            sink: configuration.accessLog
        )
        record?.outcome = "scenario"
    }

    /// Performs steps until one has to wait; a waiting step calls `run` again when it is done.
    private func run(context: ChannelHandlerContext) {
        while mode == .running, programCounter < steps.count {
            let step = steps[programCounter]
            programCounter += 1
            switch step {
            case .respond(let bytes):
                var buffer = context.channel.allocator.buffer(bytes: bytes)
                if var extra = held.take() { buffer.writeBuffer(&extra) }
                noteStatus(bytes)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            case .respondBytewise(let bytes, let pause):
                noteStatus(bytes)
                writeBytewise(bytes[...], pause: pause, context: context)
                return
            case .delay(let amount):
                resume(after: amount, context: context)
                return
            case .connect:
                connect(context: context) { self.run(context: context) }
                return
            case .awaitTargetBytes:
                awaitTargetBytes(context: context)
                return
            case .tunnel:
                if peer == nil {
                    connect(context: context) { self.startTunnel(context: context) }
                } else {
                    startTunnel(context: context)
                }
                return
            case .close:
                lingeringClose(context: context)
                return
            case .reset:
                reset(context: context)
                return
            case .neverAnswer:
                mode = .discarding
                pending = nil
                return
            case .expectAuth(let user, let password, let count):
                let credentials = BasicCredentials(header: head?.header("Proxy-Authorization"))
                if credentials?.user == user, credentials?.password == password {
                    programCounter += count
                }
            case .endAuth:
                nextRound(context: context)
                return
            }
        }
        if mode == .running { lingeringClose(context: context) }
    }

    private func noteStatus(_ bytes: [UInt8]) {
        guard let record, record.status == 0, bytes.count >= 12 else { return }
        record.status = Int(String(decoding: bytes[9..<12], as: UTF8.self)) ?? 0
    }

    private func resume(after amount: TimeAmount, context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(in: amount) {
            if self.mode == .running { self.run(context: context) }
        }
    }

    private func writeBytewise(_ bytes: ArraySlice<UInt8>, pause: TimeAmount, context: ChannelHandlerContext) {
        guard mode == .running else { return }
        guard let first = bytes.first else { return run(context: context) }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: [first])), promise: nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: pause) {
            self.writeBytewise(bytes.dropFirst(), pause: pause, context: context)
        }
    }

    /// The client retries (e.g. after a 407): read its next request on this connection and start over.
    private func nextRound(context: ChannelHandlerContext) {
        rounds += 1
        record?.finish()
        record = nil
        guard rounds < Self.maxRounds else { return lingeringClose(context: context) }
        programCounter = 0
        head = nil
        mode = .readingHead
        if var bytes = pending.take() { parser.append(&bytes) }
        processHead(context: context)
    }

    private func connect(context: ChannelHandlerContext, then next: @escaping () -> Void) {
        guard let target = head.flatMap({ ConnectTarget(parsing: $0.target) }) else {
            return lingeringClose(context: context)
        }
        let buffer = TargetBufferHandler()
        TargetDialer.connect(to: target, on: context.eventLoop, configuration: configuration)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard self.mode == .running, (try? channel.pipeline.syncOperations.addHandler(buffer)) != nil
                    else {
                        channel.close(promise: nil)
                        return
                    }
                    self.peer = channel
                    self.targetBuffer = buffer
                    next()
                case .failure:
                    guard self.mode == .running else { return }
                    self.lingeringClose(context: context)
                }
            }
    }

    private func awaitTargetBytes(context: ChannelHandlerContext) {
        guard let targetBuffer else {
            return connect(context: context) { self.awaitTargetBytes(context: context) }
        }
        var waited = false
        let finish = {
            guard !waited else { return }
            waited = true
            // When the timer wins, the buffer still holds this closure, which holds the buffer: break the cycle.
            targetBuffer.onBytes = nil
            self.held = targetBuffer.take()
            if self.mode == .running { self.run(context: context) }
        }
        if targetBuffer.hasBytes { return finish() }
        targetBuffer.onBytes = finish
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.targetBytesWait) { finish() }
    }

    private func startTunnel(context: ChannelHandlerContext) {
        guard let peer, let targetBuffer, let record else { return lingeringClose(context: context) }
        let (clientGlue, targetGlue) = GlueHandler.matchedPair(
            record: record,
            closeFlushTimeout: configuration.closeFlushTimeout,
            closeLog: closeLog
        )
        do {
            try peer.pipeline.syncOperations.addHandler(targetGlue)
            try context.pipeline.syncOperations.addHandler(clientGlue, position: .after(self))
        } catch {
            peer.close(promise: nil)
            context.close(promise: nil)
            return
        }
        mode = .tunnelling
        record.outcome = "scenario-tunnel"
        if let bytes = held.take() { clientGlue.writeAndFlush(bytes) }
        if let bytes = targetBuffer.take() { clientGlue.writeAndFlush(bytes) }
        if targetBuffer.inputEnded { targetGlue.inputEndedEarlier() }
        if let bytes = pending.take() { targetGlue.writeAndFlush(bytes) }
        if inputEnded { clientGlue.inputEndedEarlier() }
        peer.pipeline.syncOperations.removeHandler(targetBuffer, promise: nil)
        context.channel.closeFuture.assumeIsolated().whenComplete { _ in record.finish() }
        self.record = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func lingeringClose(context: ChannelHandlerContext) {
        mode = .draining
        peer?.close(promise: nil)
        ProxyLinger.begin(on: context.channel)
    }

    /// Closes with SO_LINGER 0, so the kernel sends a TCP reset instead of a FIN.
    private func reset(context: ChannelHandlerContext) {
        mode = .closed
        peer?.close(promise: nil)
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: written)
        written.futureResult.whenComplete { _ in
            guard let provider = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension ScenarioHandler: Sendable {}
