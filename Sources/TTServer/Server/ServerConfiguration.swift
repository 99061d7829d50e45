import NIOCore
public import TTBasics
public import TTProtocol

/// Everything a ``FrameworkServer`` needs to run: where to listen, who it is, who may log in, and its limits.
public struct ServerConfiguration: Sendable {
    /// The addresses to listen on; each gets its own listener (IPv4 and IPv6 side by side).
    public var listenAddresses: [ListenAddress]
    /// The long-term Ed25519 key that signs every handshake.
    public var identity: ServerIdentity
    /// The accounts Login checks.
    public var users: UserDirectory
    /// Frame and inflate limits, handshake deadline, idle timeout and connection cap.
    public var limits: ProtocolLimits
    /// How long a rejected Login waits before its answer, to slow down password guessing.
    public var failedLoginDelay: Duration
    /// Failed logins one session may make; the next closes the connection.
    public var maxFailedLoginsPerSession: Int
    /// Frames and payloads at least this large are (de)compressed on the thread pool, not the event loop.
    public var offloadThreshold: Int
    /// Jobs the whole server may have on the thread pool at once (inflating, compressing, password checks); a
    /// request needing one more is answered `Server busy`.
    public var maxOffloadedJobs: Int
    /// Bytes the jobs on the thread pool may account for at once (input plus the largest output each may make);
    /// a request that would exceed it is answered `Server busy`.
    public var maxOffloadedBytes: Int
    /// How long a graceful shutdown lets in-flight requests finish before it closes what is left.
    public var shutdownGracePeriod: Duration
    /// How long a graceful shutdown reports "draining" (``FrameworkServer/isServing`` is `false`, `/healthz`
    /// answers 503) while still serving, before it stops accepting: a balancer that polls the health check every
    /// few seconds takes the server out of rotation first, so no client is sent to a closed port. Default 0.
    public var drainDelay: Duration = .zero
    /// How long a closing session may take to flush its last answers; a peer that does not read them is then
    /// disconnected with the answers dropped.
    public var closeFlushTimeout: Duration
    /// How long a closing session whose answers are flushed waits, its output shut down, for the peer to close
    /// too, reading and discarding what still arrives: closing with unread bytes would send a reset that destroys
    /// answers the peer has not read yet. Default 2 s.
    public var closeLingerTimeout: Duration = .seconds(2)
    /// Bytes that linger may read and discard; a peer that sends more is disconnected at once. Default 1 MiB.
    public var closeLingerMaxBytes = 1 << 20
    /// Whether every connection starts with a PROXY protocol v1 or v2 header (HAProxy `send-proxy`), whose
    /// source address then names the client in logs. Turn on only behind a balancer that always sends one.
    public var acceptsProxyProtocol: Bool
    /// The peers allowed to send that header: the balancers. A connection from any other address is refused and
    /// closed before a byte is read, since its header would let it choose the address that logs and login
    /// fairness see. Default: loopback only (`127.0.0.0/8`, `::1/128`).
    public var proxyProtocolSources: [IPNetwork] = ServerConfiguration.loopbackNetworks
    /// `127.0.0.0/8` and `::1/128`.
    public static let loopbackNetworks = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!]
    /// Bytes all sessions together may hold in undecoded input, queued frames and unflushed answers; a session
    /// that needs more than is left is closed (docs/SERVER.md, "Memory").
    public var maxBufferedBytes: Int
    /// The share of ``maxBufferedBytes`` sessions that have not logged in may hold together.
    public var maxPreLoginBufferedBytes: Int
    /// The largest frame, and the largest packet it may inflate to, before the session has logged in; a larger
    /// frame length closes the session before its body is read.
    public var preLoginMaxPacketSize: Int
    /// How long a frame may take from its first byte to its last (never longer than the idle timeout).
    public var frameTimeout: Duration
    /// Password checks running at once (on the thread pool, apart from its other budget).
    public var maxConcurrentLoginChecks: Int
    /// Password checks one source address may have waiting; further Logins are answered `Server busy`.
    public var maxQueuedLoginsPerAddress: Int
    /// Password checks all addresses together may have waiting.
    public var maxQueuedLogins: Int
    /// Password checks that sources without a recent successful login may have waiting together, however many
    /// addresses they come from; sources and users with a recent success wait in a lane of their own.
    public var maxQueuedUnprovenLogins = 32
    /// Log lines of one kind peers can cause per second (session closed, login rejected, server busy …); the
    /// rest are counted and reported as `suppressed similar log lines`. 0 turns the limit off.
    public var maxLogLinesPerSecond: Int

    /// Half the machine's cores, at least 1: password checks never take every thread of the pool.
    public static var defaultConcurrentLoginChecks: Int { max(1, System.coreCount / 2) }
    /// Where every executed request is recorded with its opt-args (`--request-log`, for fault-injection tests);
    /// `nil` (the default) records nothing.
    public var requestLog: RequestLog? = nil
    /// The certificate for clients that connect with TLS (through inspecting proxies); the same port keeps taking
    /// raw framework connections. `nil`: TLS is not offered.
    public var tls: ServerTLSContext? = nil

    /// - Parameters:
    ///   - listenAddresses: Where to listen (default `0.0.0.0:5000`).
    ///   - identity: The server's identity key.
    ///   - users: The accounts Login checks (default none: every login is rejected).
    ///   - limits: Protocol limits (default PROTOCOL.md §4).
    ///   - failedLoginDelay: Delay before a `Login rejected` answer (default 250 ms).
    ///   - maxFailedLoginsPerSession: Failed logins before the session is closed (default 5).
    ///   - offloadThreshold: Size from which compression runs off the event loop (default 64 KiB).
    ///   - maxOffloadedJobs: Thread-pool jobs in flight server-wide (default 64).
    ///   - maxOffloadedBytes: Bytes those jobs may account for (default 1 GiB).
    ///   - shutdownGracePeriod: Deadline for in-flight requests on shutdown (default 10 s).
    ///   - closeFlushTimeout: Deadline for flushing the last answers of a closing session (default 5 s).
    ///   - acceptsProxyProtocol: Expect a PROXY protocol header on every connection (default off).
    ///   - maxBufferedBytes: Buffered bytes of all sessions (default 256 MiB).
    ///   - maxPreLoginBufferedBytes: Their share for sessions not logged in (default 32 MiB).
    ///   - preLoginMaxPacketSize: Frame and packet limit before login (default 64 KiB).
    ///   - frameTimeout: Deadline for a started frame (default 30 s).
    ///   - maxConcurrentLoginChecks: Password checks at once (default half the cores, at least 1).
    ///   - maxQueuedLoginsPerAddress: Waiting checks per source address (default 4).
    ///   - maxQueuedLogins: Waiting checks in all (default 1024).
    ///   - maxLogLinesPerSecond: Peer-caused log lines per kind and second (default 20).
    public init(
        listenAddresses: [ListenAddress] = [ListenAddress(host: "0.0.0.0", port: 5000)],
        identity: ServerIdentity,
        users: UserDirectory = UserDirectory(),
        limits: ProtocolLimits = .default,
        failedLoginDelay: Duration = .milliseconds(250),
        maxFailedLoginsPerSession: Int = 5,
        offloadThreshold: Int = 64 << 10,
        maxOffloadedJobs: Int = 64,
        maxOffloadedBytes: Int = 1 << 30,
        shutdownGracePeriod: Duration = .seconds(10),
        closeFlushTimeout: Duration = .seconds(5),
        acceptsProxyProtocol: Bool = false,
        maxBufferedBytes: Int = 256 << 20,
        maxPreLoginBufferedBytes: Int = 32 << 20,
        preLoginMaxPacketSize: Int = 64 << 10,
        frameTimeout: Duration = .seconds(30),
        maxConcurrentLoginChecks: Int = ServerConfiguration.defaultConcurrentLoginChecks,
        maxQueuedLoginsPerAddress: Int = 4,
        maxQueuedLogins: Int = 1024,
        maxLogLinesPerSecond: Int = 20
    ) {
        self.listenAddresses = listenAddresses
        self.identity = identity
        self.users = users
        self.limits = limits
        self.failedLoginDelay = failedLoginDelay
        self.maxFailedLoginsPerSession = maxFailedLoginsPerSession
        self.offloadThreshold = offloadThreshold
        self.maxOffloadedJobs = maxOffloadedJobs
        self.maxOffloadedBytes = maxOffloadedBytes
        self.shutdownGracePeriod = shutdownGracePeriod
        self.closeFlushTimeout = closeFlushTimeout
        self.acceptsProxyProtocol = acceptsProxyProtocol
        self.maxBufferedBytes = maxBufferedBytes
        self.maxPreLoginBufferedBytes = maxPreLoginBufferedBytes
        self.preLoginMaxPacketSize = preLoginMaxPacketSize
        self.frameTimeout = frameTimeout
        self.maxConcurrentLoginChecks = maxConcurrentLoginChecks
        self.maxQueuedLoginsPerAddress = maxQueuedLoginsPerAddress
        self.maxQueuedLogins = maxQueuedLogins
        self.maxLogLinesPerSecond = maxLogLinesPerSecond
    }
}
