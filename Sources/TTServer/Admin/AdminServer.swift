public import NIOCore
import NIOHTTP1
public import NIOPosix

/// The admin listener (`--admin-listen`): plain HTTP/1.1 for a balancer's health check and a metrics scraper,
/// apart from the framework port so it never needs the session protocol.
///
/// - `GET /healthz`: `200 serving` while ``health`` says so, `503 draining` otherwise (HAProxy `option httpchk`
///   takes the server out of rotation on 503);
/// - `GET /metrics`: whatever ``metrics`` renders (tt-server: the Prometheus text format);
/// - anything else: 404, or 405 for a method other than GET and HEAD.
public final class AdminServer: Sendable {
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
    public static func start(
        address: ListenAddress,
        health: @escaping Health,
        metrics: @escaping Metrics,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> AdminServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(health: health, metrics: metrics))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        return AdminServer(channel: channel)
    }

    /// Stops listening; requests being answered finish.
    public func close() async {
        try? await channel.close()
    }
}

/// Answers one admin request at a time per connection (keep-alive as the client asks).
private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let health: AdminServer.Health
    private let metrics: AdminServer.Metrics
    private var head: HTTPRequestHead?

    init(health: @escaping AdminServer.Health, metrics: @escaping AdminServer.Metrics) {
        self.health = health
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
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
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil
        )
        if head.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                promise: nil
            )
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension AdminHandler: Sendable {}
