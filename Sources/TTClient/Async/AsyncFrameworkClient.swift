import TTTransport

/// A session with a framework server for async code: ``FrameworkClient`` on a thread of its own.
///
/// Every call runs the blocking ``FrameworkClient`` — the one implementation of the protocol, reconnect and
/// exactly-once rules — on this client's own serial thread, never on Swift's cooperative thread pool, and
/// suspends the caller until it is done. Calls from several tasks run one after the other, in arrival order.
///
/// Cancelling the calling task closes the connection: a call blocked waiting for the server ends at once with
/// `CancellationError`, and the request is neither retried nor sent again on a new connection. Whether the server
/// ran a request that was already sent is then unknown, as after ``FrameworkClientError/Category/outcomeUnknown``.
/// A call still opening the connection (TCP connect, proxy tunnel, TLS, handshake) ends at once too: libcurl's
/// sockets are shut down under it (``ConnectionInterrupter``). The next call opens a new connection. A PAC script
/// is evaluated before the client is made; its async `ProxyAutoConfig.resolve(location:target:deadline:)` is
/// cancellable the same way.
///
/// ```swift
/// let client = AsyncFrameworkClient(configuration: ClientConfiguration(server: server, identity: .trustOnFirstUse(KnownServers())))
/// try await client.connect()
/// let answer = try await client.send(RequestPacket(function: .echo, payload: Array("hello".utf8)))
/// await client.close()
/// ```
public actor AsyncFrameworkClient {
    private let executor: ClientThreadExecutor
    private let client: FrameworkClient
    private let interrupter: ConnectionInterrupter
    /// Numbers calls, so a cancellation that arrives late never interrupts the next one.
    private var job: UInt64 = 0

    /// The configuration the client was made with.
    public nonisolated let configuration: ClientConfiguration

    /// Runs everything on this actor's own thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Creates a client; nothing happens on the network until ``connect()`` or ``send(_:)``.
    /// - Parameters:
    ///   - configuration: where and how to connect.
    ///   - trace: the API trace log (defaults to the one `TMSSAPILOGDIR` configures).
    ///   - observer: called on the client's thread as stages complete and when the client reconnects.
    public init(
        configuration: ClientConfiguration,
        trace: APITrace = .shared,
        observer: (@Sendable (ClientEvent) -> Void)? = nil
    ) {
        self.configuration = configuration
        executor = ClientThreadExecutor(name: "tt-connect")
        client = FrameworkClient(configuration: configuration, trace: trace, observer: observer)
        interrupter = client.interrupter
    }

    deinit {
        executor.shutdown()
    }

    /// Whether a session is open (it may still turn out to be closed by the server on the next request).
    public var isConnected: Bool { client.isConnected }

    /// How the current (or last) connection was built: addresses, stage times, proxy status.
    public var report: ConnectionReport? { client.report }

    /// The server's identity key, once a handshake has verified it.
    public var serverIdentity: IdentityPublicKey? { client.serverIdentity }

    /// How many connections this client has opened (the first plus reconnects).
    public var connectionCount: Int { client.connectionCount }

    /// Opens a connection, runs the handshake, checks the server identity and logs in when credentials are set.
    /// - Throws: ``FrameworkClientError`` naming the failed stage; `CancellationError` when the task was cancelled.
    public func connect() async throws {
        try await run { client in try client.connect() }
    }

    /// Sends `request` and returns the server's answer, reconnecting per ``ClientConfiguration/reconnect``
    /// (only when that cannot run the request twice).
    /// - Throws: ``FrameworkClientError``; `CancellationError` when the task was cancelled.
    public func send(_ request: RequestPacket) async throws -> ResponsePacket {
        try await run { client in try client.send(request) }
    }

    /// Sends `request` with the whole attempt, a reconnect included, bounded by `limit`
    /// (``FrameworkClient/send(_:within:)``).
    /// - Throws: ``FrameworkClientError``; `CancellationError` when the task was cancelled.
    public func send(_ request: RequestPacket, within limit: Duration) async throws -> ResponsePacket {
        try await run { client in try client.send(request, within: limit) }
    }

    /// Sends a Ping (no login needed) and returns the answer.
    /// - Throws: ``FrameworkClientError``; `CancellationError` when the task was cancelled.
    @discardableResult
    public func ping() async throws -> ResponsePacket {
        try await run { client in try client.ping() }
    }

    /// Closes the connection (no Logout is sent; the server ends the session with it).
    public func close() {
        client.close()
    }

    /// Runs `body` on this actor's thread; a cancellation meanwhile shuts the connection down so `body` returns.
    private func run<Result: Sendable>(
        _ body: (FrameworkClient) throws -> Result
    ) async throws -> Result {
        job &+= 1
        let job = job
        let interrupter = interrupter
        interrupter.begin(job: job)
        return try await withTaskCancellationHandler {
            guard !Task.isCancelled else {
                client.close()
                throw CancellationError()
            }
            let result: Result
            do {
                result = try body(client)
            } catch {
                guard interrupter.isInterrupted || Task.isCancelled else { throw error }
                client.close()
                throw CancellationError()
            }
            // Cancelled just after the answer came: the answer stands, the shut-down connection does not.
            if interrupter.isInterrupted { client.close() }
            return result
        } onCancel: {
            interrupter.interrupt(job: job)
        }
    }
}
