import Glibc
import NIOCore
import NIOPosix
import TTBasics

/// The normal proxy: reads CONNECT request heads, checks them, dials the target and hands over to the glue.
///
/// A client past the connection limit is answered `503` as soon as it connects. Each request head must arrive
/// within the head timeout, or the client gets `408`.
///
/// States: reading a head → authenticating (hashes are checked on the thread pool) → dialing → tunnelling
/// (this handler removes itself). A `407` keeps the connection for the client's retry, unless the client sent
/// bytes behind the head (tunnel payload, never a request); other refusals end it with a lingering close, so the
/// answer is not lost to a reset when the client has sent more than we read.
final class ConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State { case readingHead, authenticating, dialing, draining, tunnelling, closed }

    /// Requests one connection may make (each 407 retry is one), so a client cannot loop forever.
    private static let maxRequestsPerConnection = 16

    private var state = State.readingHead
    private var parser: RequestHeadParser
    private var early: ByteBuffer?
    private var inputEnded = false
    private var requests = 0
    private var record: RequestRecord?
    /// Fires `408` unless a whole head arrives first; armed while reading a head.
    private var headDeadline: Scheduled<Void>?
    private let configuration: ProxyServerConfiguration
    private let services: ProxyServices
    private let overLimit: Bool

    init(configuration: ProxyServerConfiguration, services: ProxyServices, overLimit: Bool) {
        self.configuration = configuration
        self.services = services
        self.overLimit = overLimit
        self.parser = RequestHeadParser(limit: configuration.maxHeadBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armHeadDeadline(context: context)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        // Refused before reading anything: waiting for a head would let a flood of clients hold descriptors.
        guard overLimit else { return }
        begin(context: context, requestLine: "(over the connection limit)")
        refuse(
            context: context,
            status: 503,
            outcome: "connection-limit",
            message: "tt-proxy: too many connections (limit \(configuration.maxConnections)); try again later"
        )
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .readingHead:
            parser.append(&bytes)
            processHead(context: context)
        case .authenticating, .dialing:
            if early == nil { early = bytes } else { early!.writeBuffer(&bytes) }
        case .draining, .closed:
            break
        case .tunnelling:
            context.fireChannelRead(data)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case ChannelEvent.inputClosed = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        inputEnded = true
        switch state {
        case .readingHead:
            // A head cut short: nothing more will happen.
            context.close(promise: nil)
        case .authenticating, .dialing, .draining, .tunnelling, .closed:
            // Draining: the lingering close ahead of this handler takes the client's FIN and ends the connection.
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        disarmHeadDeadline()
        record?.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        services.closeLog.record(error, what: "client", channel: context.channel)
        context.close(promise: nil)
    }

    /// Turns reading on or off; a failure means the channel is already closed, which is logged like any error.
    private func setAutoRead(_ on: Bool, context: ChannelHandlerContext) {
        let (services, channel) = (services, context.channel)
        channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { error in
            services.closeLog.record(error, what: "client", channel: channel)
        }
    }

    // MARK: Request handling

    private func armHeadDeadline(context: ChannelHandlerContext) {
        let timeout = configuration.headTimeout
        headDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            guard self.state == .readingHead else { return }
            self.begin(context: context, requestLine: "(no complete request head)")
            self.refuse(
                context: context,
                status: 408,
                outcome: "head-timeout",
                message: "tt-proxy: the request head did not arrive within \(Self.describe(timeout)); "
                    + "send the whole CONNECT request head at once"
            )
        }
    }

    private func disarmHeadDeadline() {
        headDeadline?.cancel()
        headDeadline = nil
    }

    private static func describe(_ amount: Duration) -> String {
        let milliseconds = amount.wholeMilliseconds
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }

    private func processHead(context: ChannelHandlerContext) {
        guard let result = parser.next() else { return }
        disarmHeadDeadline()
        requests += 1
        switch result {
        case .tooLarge:
            begin(context: context, requestLine: "(request head over \(configuration.maxHeadBytes) bytes)")
            refuse(
                context: context,
                status: 431,
                outcome: "head-too-large",
                message: "tt-proxy: the request head is larger than \(configuration.maxHeadBytes) bytes"
            )
        case .head(nil, let lines):
            begin(context: context, requestLine: lines.first.map(String.init) ?? "")
            refuse(
                context: context,
                status: 400,
                outcome: "malformed",
                message: "tt-proxy: malformed request; expected 'CONNECT host:port HTTP/1.1' and header lines"
            )
        case .head(let head?, _):
            begin(context: context, requestLine: head.requestLine)
            early = parser.takeRemainder()
            handle(head, context: context)
        }
    }

    private func begin(context: ChannelHandlerContext, requestLine: String) {
        record = RequestRecord(
            client: context.channel.remoteAddress?.logDescription ?? "unknown",
            requestLine: requestLine,
            sink: configuration.accessLog
        )
    }

    private func handle(_ head: RequestHead, context: ChannelHandlerContext) {
        if let problem = head.strictnessProblem {
            return refuse(context: context, status: 400, outcome: "loose-head", message: "tt-proxy: \(problem)")
        }
        guard head.method == "CONNECT" else {
            return refuse(
                context: context,
                status: 405,
                outcome: "method-not-allowed",
                message: "tt-proxy only opens tunnels: use CONNECT host:port, not \(head.method)",
                extraHeaders: [("Allow", "CONNECT")]
            )
        }
        guard let target = ConnectTarget(parsing: head.target) else {
            return refuse(
                context: context,
                status: 400,
                outcome: "bad-target",
                message: "tt-proxy: the CONNECT target must be host:port or [IPv6]:port with a port 1-65535"
            )
        }
        guard requests <= Self.maxRequestsPerConnection else {
            return refuse(
                context: context,
                status: 503,
                outcome: "request-limit",
                message: "tt-proxy: too many requests on one connection (limit \(Self.maxRequestsPerConnection)); "
                    + "open a new connection"
            )
        }
        guard let authGate = services.authGate else {
            return authorized(target: target, context: context)
        }
        let credentials = BasicCredentials(header: head.header("Proxy-Authorization"))
        guard let credentials else {
            return challenge(context: context, outcome: "auth-required", message: "a user name and password")
        }
        state = .authenticating
        setAutoRead(false, context: context)
        authGate.check(
            user: credentials.user,
            password: credentials.password,
            source: AuthGate.sourceKey(context.channel.remoteAddress),
            on: context.eventLoop
        ).assumeIsolated().whenSuccess { verdict in
            guard self.state == .authenticating else { return }
            switch verdict {
            case .accepted:
                self.record?.user = credentials.user
                self.authorized(target: target, context: context)
            case .rejected:
                self.challenge(context: context, outcome: "auth-rejected", message: "a valid user name and password")
            case .busy:
                self.refuse(
                    context: context,
                    status: 503,
                    outcome: "auth-busy",
                    message: "tt-proxy: too many password checks are waiting from your address; try again later"
                )
            }
        }
    }

    private func challenge(context: ChannelHandlerContext, outcome: String, message: String) {
        let text = "tt-proxy requires \(message) (Basic)"
        let challenge = ("Proxy-Authenticate", "Basic realm=\"tt-proxy\"")
        // Bytes behind the head, read or still waiting in the socket (reads are off while a password is checked),
        // were sent before this answer: tunnel payload of a client that did not wait for the 200, not a retry.
        // Read as the next request, that payload would make requests of its own (request smuggling), so such a
        // client is answered like any refusal: the connection ends unread.
        if (early?.readableBytes ?? 0) > 0 || Self.unreadBytes(in: context.channel) > 0 {
            return refuse(context: context, status: 407, outcome: outcome, message: text, extraHeaders: [challenge])
        }
        let response = ProxyResponse.error(
            status: 407,
            reason: ProxyStatus.reason(407),
            message: text,
            extraHeaders: [challenge],
            keepAlive: true
        )
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response)), promise: nil)
        record?.status = 407
        record?.outcome = outcome
        record?.finish()
        record = nil
        // The client retries on this connection, with what it sends once it has read this answer.
        state = .readingHead
        early = nil
        armHeadDeadline(context: context)
        setAutoRead(true, context: context)
        if inputEnded { context.close(promise: nil) }
    }

    /// Bytes received on `channel`'s socket that nobody has read yet; 0 where there is no socket (an embedded
    /// channel). Must run on the channel's event loop.
    private static func unreadBytes(in channel: any Channel) -> Int {
        let count = try? channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(
            of: NIOBSDSocket.Handle.self
        ) { descriptor in
            var count: CInt = 0
            return ioctl(descriptor, UInt(FIONREAD), &count) == 0 ? Int(count) : 0
        }
        return count ?? 0
    }

    private func authorized(target: ConnectTarget, context: ChannelHandlerContext) {
        guard configuration.allowedPorts.contains(target.port) else {
            return refuse(
                context: context,
                status: 403,
                outcome: "port-not-allowed",
                message: "tt-proxy does not tunnel to port \(target.port) (allowed: \(configuration.allowedPorts))"
            )
        }
        // The target connection counts against the cap from before the dial: a slot held by a token until the
        // target channel exists, then by the channel until it closes.
        let slot = TargetSlot()
        let connections = services.connections
        guard connections.admit(.channel(context.channel), id: ObjectIdentifier(slot)) == .admitted else {
            connections.remove(id: ObjectIdentifier(slot))
            return refuse(
                context: context,
                status: 503,
                outcome: "connection-limit",
                message: "tt-proxy: too many connections (limit \(configuration.maxConnections), a tunnel uses two); "
                    + "try again later"
            )
        }
        state = .dialing
        setAutoRead(false, context: context)
        TargetDialer.connect(to: target, on: context.eventLoop, configuration: configuration, autoRead: false)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let peer):
                    guard connections.admit(.channel(peer), id: ObjectIdentifier(slot)) != .shuttingDown else {
                        // The proxy is shutting down: no new tunnel.
                        connections.remove(id: ObjectIdentifier(slot))
                        peer.close(promise: nil)
                        context.close(promise: nil)
                        return
                    }
                    peer.closeFuture.whenComplete { _ in connections.remove(id: ObjectIdentifier(slot)) }
                    guard self.state == .dialing else {
                        peer.close(promise: nil)
                        return
                    }
                    if let remote = peer.remoteAddress,
                        self.services.ownListeners.contains(target: remote, local: peer.localAddress)
                    {
                        peer.close(promise: nil)
                        return self.refuse(
                            context: context,
                            status: 403,
                            outcome: "loop",
                            message: "tt-proxy does not tunnel to itself: \(target) is one of its own listeners"
                        )
                    }
                    self.startTunnel(to: peer, slot: slot, context: context)
                case .failure(let error):
                    connections.remove(id: ObjectIdentifier(slot))
                    guard self.state == .dialing else { return }
                    let failure = DialFailure(error: error, target: target, timeout: self.configuration.connectTimeout)
                    self.refuse(
                        context: context,
                        status: failure.status,
                        outcome: failure.outcome,
                        message: failure.message
                    )
                }
            }
    }

    private func startTunnel(to peer: any Channel, slot: TargetSlot, context: ChannelHandlerContext) {
        guard let record else { return }
        if let relay = services.relay, handOverToRelay(peer, slot: slot, relay: relay, record: record, context: context)
        {
            return
        }
        let (clientGlue, targetGlue) = GlueHandler.matchedPair(
            record: record,
            closeFlushTimeout: configuration.closeFlushTimeout,
            closeLog: services.closeLog
        )
        do {
            if let idle = configuration.idleTimeout {
                try peer.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: TimeAmount(idle)))
                try peer.pipeline.syncOperations.addHandler(IdleCloseHandler())
            }
            try peer.pipeline.syncOperations.addHandler(targetGlue)
            context.write(
                wrapOutboundOut(context.channel.allocator.buffer(string: ProxyResponse.connectionEstablished)),
                promise: nil
            )
            try context.pipeline.syncOperations.addHandler(clientGlue, position: .after(self))
            try peer.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        } catch {
            peer.close(promise: nil)
            context.close(promise: nil)
            return
        }
        record.status = 200
        record.outcome = "tunnel"
        state = .tunnelling
        context.flush()
        if let pending = early.take() { targetGlue.writeAndFlush(pending) }
        if inputEnded { clientGlue.inputEndedEarlier() }
        // The record now belongs to the tunnel: it is finished when both sides have closed, so it counts every
        // byte either side delivered.
        context.channel.closeFuture.and(peer.closeFuture).assumeIsolated().whenComplete { _ in record.finish() }
        self.record = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        setAutoRead(true, context: context)
    }

    /// Hands the tunnel to the relay (``TunnelRelay``): duplicates of both sockets with the `200` and the client's early
    /// bytes; then both channels close (only their own descriptors). Neither channel has read anything past what
    /// this handler holds (the client's reads are off since the head, the target's were never on), and an end of
    /// input the client channel saw is seen again by the relay. False when the relay cannot take it (no
    /// descriptor for a duplicate, an embedded channel, a relay that stopped): the SwiftNIO glue relays instead.
    private func handOverToRelay(
        _ peer: any Channel,
        slot: TargetSlot,
        relay: TunnelRelay,
        record: RequestRecord,
        context: ChannelHandlerContext
    ) -> Bool {
        guard let clientDescriptor = TunnelRelay.duplicateDescriptor(of: context.channel) else { return false }
        guard let targetDescriptor = TunnelRelay.duplicateDescriptor(of: peer) else {
            close(clientDescriptor)
            return false
        }
        let connections = services.connections
        let tunnel = RelayedTunnel(
            record: NIOLoopBound(record, eventLoop: context.eventLoop),
            connections: connections,
            closeLog: services.closeLog,
            client: record.client,
            target: peer.remoteAddress?.logDescription ?? "an unknown address"
        )
        // The registry entries move to the tunnel before the relay can end it (and remove them).
        let entry = ProxyConnection { [weak tunnel] in if let tunnel { relay.close(tunnel) } }
        let clientID = ObjectIdentifier(context.channel)
        let targetID = ObjectIdentifier(slot)
        let moved = (
            connections.handOver(from: clientID, to: ObjectIdentifier(tunnel), entry),
            connections.handOver(from: targetID, to: ObjectIdentifier(tunnel.targetToken), entry)
        )
        let response = context.channel.allocator.buffer(string: ProxyResponse.connectionEstablished)
        let early = self.early ?? context.channel.allocator.buffer(capacity: 0)
        guard moved == (true, true),
            relay.adopt(
                client: clientDescriptor,
                target: targetDescriptor,
                toClient: response,
                uncounted: response.readableBytes,
                toTarget: early,
                tunnel: tunnel
            )
        else {
            if moved.0 {
                _ = connections.handOver(from: ObjectIdentifier(tunnel), to: clientID, .channel(context.channel))
            }
            if moved.1 {
                _ = connections.handOver(from: ObjectIdentifier(tunnel.targetToken), to: targetID, .channel(peer))
            }
            close(clientDescriptor)
            close(targetDescriptor)
            return false
        }
        record.status = 200
        record.outcome = "tunnel"
        state = .tunnelling
        self.early = nil
        self.record = nil
        peer.close(promise: nil)
        context.close(promise: nil)
        return true
    }

    /// Answers with an error and ends the connection after the client has had time to read it.
    private func refuse(
        context: ChannelHandlerContext,
        status: Int,
        outcome: String,
        message: String,
        extraHeaders: [(String, String)] = []
    ) {
        let response = ProxyResponse.error(
            status: status,
            reason: ProxyStatus.reason(status),
            message: message,
            extraHeaders: extraHeaders
        )
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response)), promise: nil)
        record?.status = status
        record?.outcome = outcome
        record?.finish()
        record = nil
        state = .draining
        disarmHeadDeadline()
        early = nil
        _ = parser.takeRemainder()
        // The linger reads whatever reading this handler had turned off.
        ProxyLinger.begin(on: context.channel)
    }
}

@available(*, unavailable)
extension ConnectHandler: Sendable {}

/// Identifies a target connection in the ``ConnectionRegistry`` from before its dial until it closes.
private final class TargetSlot: Sendable {}
