public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix
import TTBasics
import TTPasswordChecks
import TTProtocol

/// The framework server: listeners on one or more addresses, one encrypted session per connection.
///
/// ```swift
/// let server = FrameworkServer(configuration: configuration, logger: logger)
/// let addresses = try await server.start()   // bound addresses, ports resolved
/// …
/// await server.shutdown()                     // stop accepting, finish in-flight requests, close
/// ```
/// ``run()`` does the same for a long-running process: it starts the server if needed and returns once a
/// shutdown (or cancellation of the calling task) has completed.
public final class FrameworkServer: Sendable {
    /// The configuration the server was created with.
    public let configuration: ServerConfiguration
    /// The users logins are checked against: ``ServerConfiguration/users`` at first, replaceable while running.
    public let users: UserStore
    /// The counters sessions update.
    public let metrics: ServerMetrics

    private let logger: Logger
    private let group: any EventLoopGroup
    private let threadPool: NIOThreadPool
    private let registry: ConnectionRegistry<any Channel>
    private let offloadBudget: OffloadBudget
    private let bufferBudget: BufferBudget
    private let loginQueue: PasswordCheckQueue
    private let logLimiter: LogLimiter
    private let state = NIOLockedValueBox(State.idle)
    /// Set once a shutdown has begun its ``ServerConfiguration/drainDelay``: health says "draining" while the
    /// listeners still accept.
    private let drainAnnounced = NIOLockedValueBox(false)

    private enum State {
        case idle
        case starting
        case running([any Channel])
        case stopping
        case stopped
    }

    /// Callers of ``run()`` waiting for the shutdown to complete; `nil` once it has.
    private let stopWaiters = NIOLockedValueBox<[CheckedContinuation<Void, Never>]?>([])

    /// - Parameters:
    ///   - configuration: Listen addresses, identity, users and limits.
    ///   - logger: Receives one line per session closed for a reason, rejected connection and listener.
    ///   - eventLoopGroup: The event loops sessions run on.
    ///   - threadPool: Where large payloads are (de)compressed and passwords are checked.
    ///   - metrics: Where sessions count handshakes, logins, requests and rejections (default: swift-metrics'
    ///     process-wide factory).
    public init(
        configuration: ServerConfiguration,
        logger: Logger = Logger(label: "tt-server"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        threadPool: NIOThreadPool = .singleton,
        metrics: ServerMetrics = ServerMetrics()
    ) {
        self.configuration = configuration
        self.users = UserStore(configuration.users)
        self.metrics = metrics
        self.logger = logger
        self.group = eventLoopGroup
        self.threadPool = threadPool
        self.registry = ConnectionRegistry(maxConnections: configuration.limits.maxConnections)
        self.offloadBudget = OffloadBudget(
            maxJobs: configuration.maxOffloadedJobs,
            maxBytes: configuration.maxOffloadedBytes
        )
        self.bufferBudget = BufferBudget(
            maxBytes: configuration.maxBufferedBytes,
            maxPreLoginBytes: configuration.maxPreLoginBufferedBytes
        )
        self.loginQueue = PasswordCheckQueue(
            threadPool: threadPool,
            limits: PasswordCheckQueue.Limits(
                maxRunning: configuration.maxConcurrentLoginChecks,
                maxQueuedPerSource: configuration.maxQueuedLoginsPerAddress,
                maxQueued: configuration.maxQueuedLogins,
                maxQueuedUnproven: configuration.maxQueuedUnprovenLogins
            )
        )
        self.logLimiter = LogLimiter(perSecond: configuration.maxLogLinesPerSecond)
    }

    /// The addresses the listeners are bound to (with the kernel's port when 0 was asked), in the order of
    /// ``ServerConfiguration/listenAddresses``; empty unless the server is running.
    public var boundAddresses: [SocketAddress] {
        state.withLockedValue { state in
            guard case .running(let channels) = state else { return [] }
            return channels.compactMap(\.localAddress)
        }
    }

    /// Whether the server is accepting sessions and will go on doing so: `false` before ``start()`` and from the
    /// moment ``shutdown()`` begins, its ``ServerConfiguration/drainDelay`` included (what a balancer's health
    /// check asks).
    public var isServing: Bool {
        let running = state.withLockedValue { state in
            if case .running = state { true } else { false }
        }
        return running && !drainAnnounced.withLockedValue { $0 }
    }

    /// The number of sessions open right now.
    public var sessionCount: Int { registry.count }

    /// The number of jobs on the thread pool right now (inflating, compressing, checking passwords), at most
    /// ``ServerConfiguration/maxOffloadedJobs``.
    public var offloadedJobCount: Int { offloadBudget.jobs }

    /// Bytes sessions hold right now beyond their uncharged allowance, at most
    /// ``ServerConfiguration/maxBufferedBytes``.
    public var bufferedBytes: Int { bufferBudget.bytes }

    /// Password checks running or waiting right now.
    public var pendingLoginChecks: Int { loginQueue.pending }

    /// Binds every listen address and starts accepting sessions.
    /// - Returns: The bound addresses, as ``boundAddresses``.
    /// - Throws: ``FrameworkServerError`` naming the address that could not be bound; nothing stays bound.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        try state.withLockedValue { state in
            guard case .idle = state else { throw FrameworkServerError.alreadyStarted }
            state = .starting
        }
        var channels: [any Channel] = []
        for address in configuration.listenAddresses {
            do {
                channels.append(try await bind(address))
            } catch {
                for channel in channels { try? await channel.close() }
                let failed = state.withLockedValue { state in
                    // A shutdown that came in meanwhile owns the state from here on.
                    guard case .starting = state else { return false }
                    state = .stopped
                    return true
                }
                // Whoever waits for the end (run(), a shutdown() after this failure) must not wait forever.
                if failed { resumeStopWaiters() }
                throw FrameworkServerError.cannotListen(address: address, reason: SystemErrorText.describe(error))
            }
        }
        // A shutdown() that ran while we were binding found no listeners to close; it must not be overwritten.
        let running = state.withLockedValue { state in
            guard case .starting = state else { return false }
            state = .running(channels)
            return true
        }
        guard running else {
            for channel in channels { try? await channel.close() }
            throw FrameworkServerError.shutDownWhileStarting
        }
        for channel in channels {
            logger.info("listening", metadata: ["address": "\(channel.localAddress.map(Self.format) ?? "?")"])
        }
        return channels.compactMap(\.localAddress)
    }

    /// Runs the server until ``shutdown()`` completes; cancelling the calling task shuts it down gracefully.
    public func run() async throws {
        if state.withLockedValue({ if case .idle = $0 { true } else { false } }) {
            try await start()
        }
        await withTaskCancellationHandler {
            await waitUntilStopped()
        } onCancel: {
            Task { await self.shutdown() }
        }
    }

    /// Shuts down gracefully: reports "draining" for ``ServerConfiguration/drainDelay`` while still serving, then
    /// stops accepting, lets each session finish the requests it has received (up to
    /// ``ServerConfiguration/shutdownGracePeriod``), then closes whatever is left. Safe to call more than once; a
    /// call during the drain delay, or cancelling the calling task, cuts the delay short.
    public func shutdown() async {
        if configuration.drainDelay > .zero, announceDrain() {
            logger.info(
                "draining: health answers 503, accepting until the drain delay is over",
                metadata: ["delay": "\(configuration.drainDelay)"]
            )
            try? await Task.sleep(for: configuration.drainDelay)
        }
        let listeners: [any Channel]? = state.withLockedValue { state in
            switch state {
            case .running(let channels):
                state = .stopping
                return channels
            case .idle, .starting:
                state = .stopping
                return []
            case .stopping, .stopped:
                return nil
            }
        }
        guard let listeners else {
            await waitUntilStopped()
            return
        }
        for listener in listeners { try? await listener.close() }
        let sessions = registry.beginQuiescing()
        logger.info("shutting down", metadata: ["sessions": "\(sessions.count)"])
        for session in sessions {
            session.eventLoop.execute {
                session.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
        }
        let grace = configuration.shutdownGracePeriod
        let registry = self.registry
        let logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await registry.waitUntilEmpty() }
            group.addTask {
                try? await Task.sleep(for: grace)
                guard !Task.isCancelled else { return }
                let remaining = registry.openConnections
                logger.warning("grace period over, closing sessions", metadata: ["sessions": "\(remaining.count)"])
                for channel in remaining { channel.close(promise: nil) }
            }
            await group.next()
            group.cancelAll()
        }
        state.withLockedValue { $0 = .stopped }
        resumeStopWaiters()
        logger.info("stopped")
    }

    /// Marks a running server as draining; `true` for the first call only.
    private func announceDrain() -> Bool {
        state.withLockedValue { state in
            guard case .running = state else { return false }
            return drainAnnounced.withLockedValue { announced in
                defer { announced = true }
                return !announced
            }
        }
    }

    /// Wakes everyone in ``waitUntilStopped()``; later callers return at once.
    private func resumeStopWaiters() {
        let waiters = stopWaiters.withLockedValue { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = stopWaiters.withLockedValue { waiters in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    private func bind(_ address: ListenAddress) async throws -> any Channel {
        let context = SessionContext(
            configuration: configuration,
            threadPool: threadPool,
            offloadBudget: offloadBudget,
            bufferBudget: bufferBudget,
            loginQueue: loginQueue,
            logLimiter: logLimiter,
            logger: logger,
            users: users,
            metrics: metrics
        )
        let registry = self.registry
        let logger = self.logger
        let limiter = self.logLimiter
        let refusals = SessionRefusals(logger: logger, limiter: limiter, metrics: metrics)
        return try await ServerBootstrap(group: group)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(AcceptBackoff(logger: logger, limiter: limiter))
                    try pipeline.addHandler(SessionAdmission(registry: registry, refusals: refusals))
                }
            }
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                // SessionAdmission has admitted it (within the cap, in accept order).
                if let refusal = Self.untrustedProxyProtocolPeer(channel, configuration: context.configuration) {
                    refusals.record(channel, reason: refusal)
                    return channel.eventLoop.makeFailedFuture(FrameworkServerError.connectionRefused)
                }
                let peer = channel.remoteAddress.map(Self.format) ?? "unknown"
                return channel.eventLoop.makeCompletedFuture {
                    try SessionPipeline.install(on: channel, context: context, peer: peer)
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }

    /// Why a connection may not send a PROXY header, or `nil` when it may (or none is expected): its real peer
    /// address is outside ``ServerConfiguration/proxyProtocolSources``.
    static func untrustedProxyProtocolPeer(_ channel: any Channel, configuration: ServerConfiguration) -> String? {
        guard configuration.acceptsProxyProtocol else { return nil }
        guard
            ServerConfiguration.trustsProxyProtocol(
                from: channel.remoteAddress?.ipAddress,
                sources: configuration.proxyProtocolSources
            )
        else {
            return "PROXY protocol header expected, but this peer is not a trusted balancer (--proxy-protocol-from)"
        }
        return nil
    }

    /// `HOST:PORT` with IPv6 in brackets, as log lines and the executable print it.
    public static func format(_ address: SocketAddress) -> String {
        HostPort(host: address.ipAddress ?? "\(address)", port: address.port ?? 0).description
    }
}

/// Why a server could not start.
public struct FrameworkServerError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case alreadyStarted, connectionRefused, shutDownWhileStarting, cannotListen
    }

    private let code: Code
    /// What the member does not say: for ``cannotListen``, the address and the system's reason.
    public let detail: String?

    private init(_ code: Code, _ detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    /// Errors are the same when their members are; the detail does not count.
    public static func == (lhs: FrameworkServerError, rhs: FrameworkServerError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// ``FrameworkServer/start()`` ran twice.
    public static let alreadyStarted = FrameworkServerError(.alreadyStarted)
    /// The server took no more connections (shutting down); the connection was closed at once.
    public static let connectionRefused = FrameworkServerError(.connectionRefused)
    /// ``FrameworkServer/shutdown()`` came while ``FrameworkServer/start()`` was binding.
    public static let shutDownWhileStarting = FrameworkServerError(.shutDownWhileStarting)
    /// A listen address could not be bound; ``detail`` names it and says why.
    public static let cannotListen = FrameworkServerError(.cannotListen)

    static func cannotListen(address: ListenAddress, reason: String) -> FrameworkServerError {
        FrameworkServerError(.cannotListen, "\(address): \(reason)")
    }

    public var description: String {
        switch code {
        case .alreadyStarted: "the server was already started"
        case .connectionRefused: "connection refused by the server"
        case .shutDownWhileStarting: "the server was shut down while it was starting; its listeners were closed again"
        case .cannotListen:
            "cannot listen on \(detail ?? "an address") (is another process using the port, "
                + "or is the address not on this machine?)"
        }
    }
}
