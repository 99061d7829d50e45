public import NIOCore
public import NIOPosix
import TTBasics

/// A running tt-proxy: listeners bound, serving CONNECT (or a scenario) until ``shutdown(grace:)``.
///
/// ```swift
/// var configuration = ProxyServerConfiguration()
/// configuration.listeners = [.init(host: "127.0.0.1", port: 0)]
/// let proxy = try await ProxyServer.start(configuration: configuration)
/// let port = proxy.listeningAddresses[0].port!
/// …
/// await proxy.shutdown()
/// ```
public final class ProxyServer: Sendable {
    private let serverChannels: [any Channel]
    private let connections: ConnectionRegistry<ProxyConnection>
    /// Runs Basic auth password checks and nothing else: on NIO's shared pool a check would wait behind every
    /// other blocking job of the process (in a test process, other proxies' floods), which the fair queue cannot
    /// see.
    private let checkPool: NIOThreadPool?
    private let relay: TunnelRelay?

    /// The bound addresses, in the order of ``ProxyServerConfiguration/listeners``, with real ports.
    public let listeningAddresses: [SocketAddress]

    private init(
        serverChannels: [any Channel],
        connections: ConnectionRegistry<ProxyConnection>,
        checkPool: NIOThreadPool?,
        relay: TunnelRelay?
    ) {
        self.serverChannels = serverChannels
        self.connections = connections
        self.checkPool = checkPool
        self.relay = relay
        self.listeningAddresses = serverChannels.compactMap(\.localAddress)
    }

    /// Binds every listener and starts serving. Fails if any listener cannot be bound (the others are closed).
    public static func start(
        configuration: ProxyServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ProxyServer {
        let connections = ConnectionRegistry<ProxyConnection>(maxConnections: configuration.maxConnections)
        let checkPool = configuration.users.map { _ in
            NIOThreadPool(numberOfThreads: max(1, configuration.authLimits.maxConcurrentChecks))
        }
        checkPool?.start()
        var authGate: AuthGate?
        if let users = configuration.users, let checkPool {
            authGate = AuthGate(
                users: users,
                limits: configuration.authLimits,
                timerLoop: group.next(),
                threadPool: checkPool
            )
        }
        // Scenarios shape the bytes they relay, so only the normal proxy hands tunnels to the relay thread.
        let relay =
            configuration.scenario == nil
            ? TunnelRelay(
                mode: configuration.relayMode,
                idleTimeout: configuration.idleTimeout,
                closeFlushTimeout: configuration.closeFlushTimeout
            )
            : nil
        let services = ProxyServices(
            connections: connections,
            authGate: authGate,
            ownListeners: OwnListeners(),
            closeLog: ConnectionCloseLog(sink: configuration.eventLog),
            relay: relay
        )
        let acceptFailures = AcceptFailureLog(sink: configuration.eventLog)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptPauseHandler(log: acceptFailures))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: TunnelBuffers.recvAllocator)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: TunnelBuffers.writeBufferWaterMark)
            .childChannelInitializer { channel in
                let admission = connections.admit(.channel(channel), id: ObjectIdentifier(channel))
                guard admission != .shuttingDown else {
                    return channel.eventLoop.makeFailedFuture(ProxyShuttingDown())
                }
                channel.closeFuture.whenComplete { _ in connections.remove(id: ObjectIdentifier(channel)) }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let idle = configuration.idleTimeout {
                        try pipeline.addHandler(IdleStateHandler(allTimeout: TimeAmount(idle)))
                        try pipeline.addHandler(IdleCloseHandler())
                    }
                    if let scenario = configuration.scenario {
                        try pipeline.addHandler(
                            ScenarioHandler(
                                scenario: scenario,
                                configuration: configuration,
                                closeLog: services.closeLog
                            )
                        )
                    } else {
                        try pipeline.addHandler(
                            ConnectHandler(
                                configuration: configuration,
                                services: services,
                                overLimit: admission == .overLimit
                            )
                        )
                    }
                }
            }
        var channels: [any Channel] = []
        do {
            for listener in configuration.listeners {
                let channel = try await bootstrap.bind(host: listener.host, port: listener.port).get()
                channels.append(channel)
                if let address = channel.localAddress { services.ownListeners.add(address) }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            try? await checkPool?.shutdownGracefully()
            relay?.stop()
            throw ProxyStartError(underlying: error, listener: configuration.listeners[channels.count])
        }
        return ProxyServer(serverChannels: channels, connections: connections, checkPool: checkPool, relay: relay)
    }

    /// Connections open now: clients, and the targets of their tunnels.
    public var connectionCount: Int { connections.count }

    /// Stops accepting, lets open tunnels finish for up to `grace`, then closes whatever is left.
    public func shutdown(grace: Duration = .seconds(5)) async {
        for channel in serverChannels { try? await channel.close() }
        let connections = self.connections
        connections.beginQuiescing()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await connections.waitUntilEmpty() }
            group.addTask {
                try? await Task.sleep(for: grace)
                guard !Task.isCancelled else { return }
                for connection in connections.openConnections { connection.close() }
            }
            await group.next()
            group.cancelAll()
        }
        // Checks of connections that are gone have nobody to answer.
        try? await checkPool?.shutdownGracefully()
        relay?.stop()
    }
}

/// What every connection of one proxy shares: the connection registry (clients and targets), the password
/// check queue, and the proxy's own addresses.
struct ProxyServices: Sendable {
    var connections: ConnectionRegistry<ProxyConnection>
    var authGate: AuthGate?
    var ownListeners: OwnListeners
    /// Why connections ended on errors, rate-limited.
    var closeLog: ConnectionCloseLog
    /// Where established tunnels go; without it (or when it cannot take one) the SwiftNIO glue relays.
    var relay: TunnelRelay? = nil
}

/// An open connection as the registry knows it: something a shutdown can close, a SwiftNIO channel or a tunnel
/// in the ``TunnelRelay``.
struct ProxyConnection: Sendable {
    let close: @Sendable () -> Void

    static func channel(_ channel: any Channel) -> ProxyConnection {
        ProxyConnection { channel.close(promise: nil) }
    }
}

/// Closes a connection accepted while the proxy shuts down.
private struct ProxyShuttingDown: Error {}

/// A listener that could not be bound; names the address.
public struct ProxyStartError: Error, CustomStringConvertible {
    public var underlying: any Error
    public var listener: ProxyServerConfiguration.Listener
    public var description: String {
        "cannot listen on \(listener): \(SystemErrorText.describe(underlying))"
    }
}
