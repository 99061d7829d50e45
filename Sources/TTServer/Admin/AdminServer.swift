public import Logging
public import NIOCore
import NIOHTTP1
public import NIOPosix
import TTChannelSupport

/// The admin listener (`--admin-listen`): plain HTTP/1.1 for a balancer's health check and a metrics scraper,
/// apart from the framework port so it never needs the session protocol.
///
/// - `GET /healthz`: `200 serving` while ``health`` says so, `503 draining` otherwise (HAProxy `option httpchk`
///   takes the server out of rotation on 503);
/// - `GET /metrics`: whatever ``metrics`` renders (tt-server: the Prometheus text format);
/// - anything else: 404, or 405 for a method other than GET and HEAD;
/// - a request NIO's HTTP parser rejects: 400.
///
/// Whoever reaches the port is not trusted: connections are capped, in all and per address, a request head must
/// arrive whole within a timeout and within a size limit (see ``Limits``), and every connection closes after its one
/// answer. At the cap a newcomer takes the place of the connection that has waited longest, so silent peers cannot
/// keep the balancer's health checks out.
public final class AdminServer: Sendable {
    /// How long, and for how many bytes, a connection is read and discarded after its answer before it closes
    /// (``LingeringClose``): a client that pipelined more than its one request, or sent past the head limit,
    /// gets its answer and an end of stream instead of a reset. Admin requests are small; these bounds are too.
    static let lingerTimeout = Duration.seconds(2)
    static let lingerMaxBytes = 64 << 10

    /// Bounds on what one client, or many, can hold of the admin listener.
    public struct Limits: Sendable, Hashable {
        /// Connections open at once. At the cap a newcomer is admitted and the connection most likely idle is
        /// closed instead: a lingering one, else the one that has waited longest for its request head.
        public var maxConnections: Int
        /// Connections open at once from one address (an IPv6 address by its /64); one more from it is closed as
        /// soon as it is accepted, so one peer cannot take every place.
        public var maxConnectionsPerAddress: Int
        /// Time a connection has to send a whole request head; then it is closed.
        public var headTimeout: TimeAmount
        /// Bytes a connection may send before its answer; more is answered 431 and the connection closed.
        public var maxHeadBytes: Int

        /// - Parameters:
        ///   - maxConnections: Connections open at once (default 64).
        ///   - maxConnectionsPerAddress: Connections open at once from one address (default 8).
        ///   - headTimeout: Time for a whole request head (default 10 s).
        ///   - maxHeadBytes: Request head size limit (default 8 KiB).
        public init(
            maxConnections: Int = 64,
            maxConnectionsPerAddress: Int = 8,
            headTimeout: TimeAmount = .seconds(10),
            maxHeadBytes: Int = 8192
        ) {
            self.maxConnections = maxConnections
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.headTimeout = headTimeout
            self.maxHeadBytes = maxHeadBytes
        }
    }

    /// Answers whether the server is serving (`true`) or draining.
    public typealias Health = @Sendable () -> Bool
    /// Renders the metrics page.
    public typealias Metrics = @Sendable () -> String

    private let channel: any Channel

    /// The address the listener is bound to.
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `address` and starts answering.
    /// - Parameters:
    ///   - logger: Receives a line per connection refused over its address's cap or closed to make room.
    ///   - logRate: Lines per second of each such kind (``LogLimiter``); more are counted and reported as
    ///     suppressed. 0 or less turns limiting off.
    ///   - counters: Counts those connections (`tt_admin_connections_closed_total`), when given.
    public static func start(
        address: ListenAddress,
        limits: Limits = Limits(),
        health: @escaping Health,
        metrics: @escaping Metrics,
        logger: Logger = Logger(label: "tt-server.admin"),
        logRate: Int = 20,
        counters: ServerMetrics? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> AdminServer {
        let slots = AdminSlots(
            maxConnections: limits.maxConnections,
            maxPerAddress: limits.maxConnectionsPerAddress
        )
        let refusals = AdminRefusals(logger: logger, limiter: LogLimiter(perSecond: logRate), counters: counters)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AdminAdmission(slots: slots, refusals: refusals))
                }
            }
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try installHandlers(
                        on: channel.pipeline.syncOperations,
                        limits: limits,
                        health: health,
                        metrics: metrics,
                        slots: slots
                    )
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        return AdminServer(channel: channel)
    }

    /// The handlers of one admin connection: the head size limit, NIO's HTTP/1.1 server codec, the answer.
    ///
    /// The answer to a request the parser rejects is ``AdminHandler``'s too, not NIO's error handler's: NIO's sends
    /// its 400 and leaves the connection open (until the head timeout), where every answer here ends it.
    /// - Parameter slots: Told when the connection's answer begins and when it lingers (``AdminSlots/Phase``).
    static func installHandlers(
        on operations: ChannelPipeline.SynchronousOperations,
        limits: Limits,
        health: @escaping Health,
        metrics: @escaping Metrics,
        slots: AdminSlots? = nil
    ) throws {
        try operations.addHandler(
            HeadSizeLimit(maxBytes: limits.maxHeadBytes, flushTimeout: limits.headTimeout, slots: slots)
        )
        try operations.configureHTTPServerPipeline(withErrorHandling: false)
        try operations.addHandler(
            AdminHandler(headTimeout: limits.headTimeout, health: health, metrics: metrics, slots: slots)
        )
    }

    /// Ends a connection once its answer is flushed: half-closes and lingers, so bytes the client sent past its one
    /// request do not turn the close into a reset; closes at once when the answer could not be written, and when it
    /// is not written whole within `flushTimeout` (the head timeout: a peer that asks for `/metrics` and never reads
    /// would otherwise hold its connection, and the answer's memory, for good).
    static func answerAndLinger(
        _ flushed: EventLoopFuture<Void>,
        on channel: any Channel,
        slots: AdminSlots?,
        flushTimeout: TimeAmount
    ) {
        slots?.mark(channel, .answering)
        let unread = channel.eventLoop.scheduleTask(in: flushTimeout) { channel.close(promise: nil) }
        flushed.whenComplete { result in
            unread.cancel()
            switch result {
            case .success:
                slots?.mark(channel, .lingering)
                LingeringClose.begin(on: channel, timeout: lingerTimeout, maxBytes: lingerMaxBytes)
            case .failure:
                channel.close(promise: nil)
            }
        }
    }

    /// Stops listening; requests being answered finish.
    public func close() async {
        try? await channel.close()
    }
}

/// Counts the raw bytes a connection sends before its answer (it gets one answer, then closes) and cuts it off
/// with a 431 past the limit, so an endless header line costs at most the limit in memory.
private final class HeadSizeLimit: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let maxBytes: Int
    private let flushTimeout: TimeAmount
    private let slots: AdminSlots?
    private var received = 0
    private var tripped = false

    init(maxBytes: Int, flushTimeout: TimeAmount, slots: AdminSlots?) {
        self.maxBytes = maxBytes
        self.flushTimeout = flushTimeout
        self.slots = slots
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !tripped else { return }
        received += unwrapInboundIn(data).readableBytes
        guard received > maxBytes else { return context.fireChannelRead(data) }
        tripped = true
        let answer = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        AdminServer.answerAndLinger(
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer))),
            on: context.channel,
            slots: slots,
            flushTimeout: flushTimeout
        )
    }
}

/// Answers the connection's one request, or the parser's rejection of it, then closes it; a head that is not whole
/// within the timeout closes it.
private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let headTimeout: TimeAmount
    private let health: AdminServer.Health
    private let metrics: AdminServer.Metrics
    private let slots: AdminSlots?
    private var head: HTTPRequestHead?
    private var answered = false
    private var timeout: Scheduled<Void>?

    init(
        headTimeout: TimeAmount,
        health: @escaping AdminServer.Health,
        metrics: @escaping AdminServer.Metrics,
        slots: AdminSlots?
    ) {
        self.headTimeout = headTimeout
        self.health = health
        self.metrics = metrics
        self.slots = slots
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timeout = context.eventLoop.scheduleTask(in: headTimeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head, !answered else { return }
            respond(to: head, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request the parser rejects (a bad request line, header or chunk) is answered and ends the connection
        // like any other; the decoder's complaints about bytes behind it change nothing.
        guard error is HTTPParserError, !answered else { return context.fireErrorCaught(error) }
        answer(
            status: .badRequest,
            contentType: "text/plain",
            body: "malformed HTTP request\n",
            version: .http1_1,
            withBody: true,
            context: context
        )
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let (status, contentType, body): (HTTPResponseStatus, String, String)
        if head.method != .GET && head.method != .HEAD {
            (status, contentType, body) = (.methodNotAllowed, "text/plain", "GET or HEAD only\n")
        } else if path == "/healthz" {
            (status, contentType, body) =
                health() ? (.ok, "text/plain", "serving\n") : (.serviceUnavailable, "text/plain", "draining\n")
        } else if path == "/metrics" {
            (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
        } else {
            (status, contentType, body) = (.notFound, "text/plain", "not found; try /healthz or /metrics\n")
        }
        answer(
            status: status,
            contentType: contentType,
            body: body,
            version: head.version,
            withBody: head.method != .HEAD,
            context: context
        )
    }

    /// Writes the connection's one answer and ends the connection once it is flushed.
    private func answer(
        status: HTTPResponseStatus,
        contentType: String,
        body: String,
        version: HTTPVersion,
        withBody: Bool,
        context: ChannelHandlerContext
    ) {
        answered = true
        // From here the answer's own flush bound, then the lingering close's bounds govern the connection (also a
        // head timeout shorter than the linger).
        timeout?.cancel()
        timeout = nil
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))),
            promise: nil
        )
        if withBody {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                promise: nil
            )
        }
        AdminServer.answerAndLinger(
            context.writeAndFlush(wrapOutboundOut(.end(nil))),
            on: context.channel,
            slots: slots,
            flushTimeout: headTimeout
        )
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}

@available(*, unavailable)
extension HeadSizeLimit: Sendable {}
