import Synchronization
import TTTransport

/// A session with a framework server for async code: ``FrameworkClient`` without blocking the caller's threads.
///
/// Every call runs the blocking ``FrameworkClient`` — the one implementation of the protocol, reconnect and
/// exactly-once rules. A request on an open connection starts on the calling task: it is sent there, and an
/// answer that comes within 5 ms is read there too, so a quick request costs what it costs the
/// blocking client, without a switch of threads. Whatever may take longer (opening the connection, a reconnect
/// and its backoff, a slow answer, a large request) continues on this client's own thread, never on Swift's
/// cooperative thread pool, while the caller is suspended. Calls from several tasks run one after the other, in
/// arrival order.
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
    /// How long a request started on the calling task may wait there for its answer before the client's thread
    /// takes the wait over: the longest a call blocks a thread of Swift's cooperative pool. Longer than a tick of
    /// a 250 Hz kernel (4 ms): a `poll(2)` timeout that ends before the CPU's next tick is its next timer, and
    /// arming and cancelling it reprograms the timer device on every request, which costs 1.5–4 µs of CPU per
    /// request on a virtual machine (BENCHMARKS.md: a 2 ms wait did, a 4 ms or longer one costs what the request
    /// timeout's does).
    static let quickWait = Duration.milliseconds(5)

    private nonisolated let handle: ClientHandle
    private nonisolated let thread: ClientThread
    private nonisolated let interrupter: ConnectionInterrupter
    private nonisolated let shared = Mutex(Shared())
    /// The calls that hold the client (its turn) or want it: 0 when it is free, 1 when a call holds it and none
    /// waits. Calls do not run on the actor: a quick request runs entirely on the calling task (an actor would
    /// cost a switch of executors), so the turn is this count; a quick request takes it and gives it back with one
    /// atomic compare-and-exchange each (under `shared`'s lock it cost twice as much). The lock is taken only when
    /// calls wait.
    private nonisolated let claims = Atomic<Int>(0)

    /// The calls waiting for their turn, and what the properties show.
    private struct Shared {
        /// The calls waiting for their turn, in the order they queued.
        var waiting: [CheckedContinuation<Void, Never>] = []
        /// Turns passed on while the call that claimed them had not queued yet: it takes one instead of waiting.
        var handoffs = 0
        /// Numbers calls that may be cancelled, so a cancellation that arrives late never interrupts the next one.
        var job: UInt64 = 0
        /// The client as the last call left it.
        var state = State()
    }

    /// The client's state the properties show, read at the end of each call.
    private struct State {
        var isConnected = false
        var report: ConnectionReport?
        var serverIdentity: IdentityPublicKey?
        var connectionCount = 0
    }

    /// The configuration the client was made with.
    public nonisolated let configuration: ClientConfiguration

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
        thread = ClientThread(name: "tt-connect")
        let client = FrameworkClient(configuration: configuration, trace: trace, observer: observer)
        handle = ClientHandle(client)
        interrupter = client.interrupter
    }

    deinit {
        thread.shutdown()
    }

    /// Whether a session was open when the last call ended (it may still turn out to be closed by the server on
    /// the next request).
    public var isConnected: Bool { shared.withLock { $0.state.isConnected } }

    /// How the current (or last) connection was built: addresses, stage times, proxy status.
    public var report: ConnectionReport? { shared.withLock { $0.state.report } }

    /// The server's identity key, once a handshake has verified it.
    public var serverIdentity: IdentityPublicKey? { shared.withLock { $0.state.serverIdentity } }

    /// How many connections this client has opened (the first plus reconnects).
    public var connectionCount: Int { shared.withLock { $0.state.connectionCount } }

    /// Opens a connection, runs the handshake, checks the server identity and logs in when credentials are set.
    /// - Throws: ``FrameworkClientError`` naming the failed stage; `CancellationError` when the task was cancelled.
    public nonisolated func connect() async throws {
        await takeTurn()
        try await exclusive { handle in
            try await self.onThread { try handle.client.connect() }
        }
    }

    /// Sends `request` and returns the server's answer, reconnecting per ``ClientConfiguration/reconnect``
    /// (only when that cannot run the request twice).
    /// - Throws: ``FrameworkClientError``; `CancellationError` when the task was cancelled.
    public nonisolated func send(_ request: RequestPacket) async throws -> ResponsePacket {
        try await sendOnTurn(request)
    }

    /// ``send(_:)``'s body, inlined into it and ``ping()`` so a ping is one `async` call, not two (each costs
    /// a task-allocator frame and an executor check).
    @inline(__always)
    private nonisolated func sendOnTurn(_ request: RequestPacket) async throws -> ResponsePacket {
        // The quick part holds no cancellation handler (it waits at most `quickWait`): a cancellation during it
        // is seen right after, by `exclusive`.
        if !Task.isCancelled, tryTakeTurn() {
            let response: ResponsePacket?
            do {
                response = try handle.client.startSend(request, waitingAtMost: Self.quickWait)
            } catch {
                // A request that cannot be encoded (nothing sent, the session stays open), or an unexpected error
                // that closed the session (connection failures go on to `finishSend`): record which.
                passTurn()
                throw error
            }
            if let response {
                // Answered on the open session: nothing the properties show has changed.
                releaseTurn()
                return response
            }
            return try await exclusive { handle in
                try await self.onThread { try handle.client.finishSend() }
            }
        }
        await takeTurn()
        return try await exclusive { handle in
            if let response = try handle.client.startSend(request, waitingAtMost: Self.quickWait) {
                return response
            }
            return try await self.onThread { try handle.client.finishSend() }
        }
    }

    /// Sends `request` with the whole attempt, a reconnect included, bounded by `limit`
    /// (``FrameworkClient/send(_:within:)``).
    /// - Throws: ``FrameworkClientError``; `CancellationError` when the task was cancelled.
    public nonisolated func send(_ request: RequestPacket, within limit: Duration) async throws -> ResponsePacket {
        await takeTurn()
        return try await exclusive { handle in
            try await self.onThread { try handle.client.send(request, within: limit) }
        }
    }

    /// Sends a Ping (no login needed) and returns the answer.
    /// - Throws: ``FrameworkClientError``; `CancellationError` when the task was cancelled.
    @discardableResult
    public nonisolated func ping() async throws -> ResponsePacket {
        try await sendOnTurn(RequestPacket(function: .ping))
    }

    /// Closes the connection (no Logout is sent; the server ends the session with it), after the calls made
    /// before.
    public nonisolated func close() async {
        await takeTurn()
        handle.client.close()
        passTurn()
    }

    /// Runs `body` for the call that holds the turn, and passes the turn on; a cancellation meanwhile shuts the
    /// connection down so `body` returns.
    private nonisolated func exclusive<Value: Sendable>(
        _ body: (ClientHandle) async throws -> Value
    ) async throws -> Value {
        defer { passTurn() }
        let job = shared.withLock {
            $0.job &+= 1
            return $0.job
        }
        let interrupter = interrupter
        let handle = handle
        interrupter.begin(job: job)
        return try await withTaskCancellationHandler {
            guard !Task.isCancelled else {
                handle.client.close()
                throw CancellationError()
            }
            let result: Value
            do {
                result = try await body(handle)
            } catch {
                guard interrupter.isInterrupted || Task.isCancelled else { throw error }
                handle.client.close()
                throw CancellationError()
            }
            // Cancelled just after the answer came: the answer stands, the shut-down connection does not.
            if interrupter.isInterrupted { handle.client.close() }
            return result
        } onCancel: {
            interrupter.interrupt(job: job)
        }
    }

    /// Runs `body` on the client's thread and suspends the caller until it is done.
    private nonisolated func onThread<Value: Sendable>(
        _ body: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            thread.run { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Takes the turn if no call holds it.
    private nonisolated func tryTakeTurn() -> Bool {
        claims.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
    }

    /// Waits until no other call holds the client, then holds it.
    private nonisolated func takeTurn() async {
        guard claims.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue != 0 else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // The call that held the client may have let go between the count and here: its turn waits for us.
            let isHandedOn = shared.withLock {
                guard $0.handoffs == 0 else {
                    $0.handoffs -= 1
                    return true
                }
                $0.waiting.append(continuation)
                return false
            }
            if isHandedOn { continuation.resume() }
        }
    }

    /// Records the client's state, then hands the client to the call that has waited longest, or frees it.
    private nonisolated func passTurn() {
        let client = handle.client
        let state = State(
            isConnected: client.isConnected,
            report: client.report,
            serverIdentity: client.serverIdentity,
            connectionCount: client.connectionCount
        )
        shared.withLock { $0.state = state }
        releaseTurn()
    }

    /// Frees the client, or hands it to the call that queued first (or to the one that claimed it and is about
    /// to queue).
    private nonisolated func releaseTurn() {
        guard !claims.compareExchange(expected: 1, desired: 0, ordering: .releasing).exchanged else { return }
        // Other calls claimed the client: one of them holds it now (the count stays theirs).
        claims.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        let next = shared.withLock {
            guard !$0.waiting.isEmpty else {
                $0.handoffs += 1
                return nil as CheckedContinuation<Void, Never>?
            }
            return $0.waiting.removeFirst()
        }
        next?.resume()
    }
}

/// The blocking client, shared by the calling tasks and the client's thread.
///
/// `@unchecked Sendable`: ``FrameworkClient`` belongs to one thread at a time. Only the call that holds the
/// turn (``AsyncFrameworkClient``'s `claims`) uses it, on its own task or on the client's thread while it awaits
/// that work; the turn passes on only after that work ended (the count's release and acquire, or the lock and
/// the continuation's resumption, order the accesses of the threads involved).
private final class ClientHandle: @unchecked Sendable {
    let client: FrameworkClient

    init(_ client: FrameworkClient) {
        self.client = client
    }
}
