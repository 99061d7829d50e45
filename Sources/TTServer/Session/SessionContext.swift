import Logging
import NIOPosix
import TTPasswordChecks
import TTProtocol

/// What every session of one server shares: configuration, the thread pool and its budgets, the login queue,
/// and the (rate-limited) logger.
struct SessionContext: Sendable {
    let configuration: ServerConfiguration
    let threadPool: NIOThreadPool
    let offloadBudget: OffloadBudget
    let bufferBudget: BufferBudget
    let loginQueue: PasswordCheckQueue
    let logLimiter: LogLimiter
    let logger: Logger
    /// The users Login checks (reloadable).
    let users: UserStore
    let metrics: ServerMetrics
    /// The codec of every answer: an Echo answer holds what the peer chose, logged in or not, so level 9's
    /// hash-chain walk is capped (``GzipCodec/chainLimit``); a 64 KiB answer built for long chains would
    /// otherwise take 130 ms of the event loop.
    let gzip = GzipCodec(chainLimit: Self.answerChainLimit)
    /// zlib's default level's chain.
    static let answerChainLimit = 128

    var limits: ProtocolLimits { configuration.limits }

    /// How far a frame below ``ServerConfiguration/offloadThreshold`` is inflated on the event loop: a few times
    /// the threshold, so a small frame that inflates far (up to 1032:1) cannot stall the loop.
    var inlineInflateLimit: Int {
        let (limit, overflow) = configuration.offloadThreshold.multipliedReportingOverflow(by: 4)
        return overflow ? .max : limit
    }

    /// The largest frame and packet before login, never above the protocol limits.
    var preLoginMaxPacketSize: Int {
        min(configuration.preLoginMaxPacketSize, limits.maxFrameSize, limits.maxInflatedSize)
    }

    /// The frame deadline: the configured one, never longer than the idle timeout (a frame that has begun but
    /// does not progress is idleness too).
    var frameTimeout: Duration { min(configuration.frameTimeout, limits.idleTimeout) }
}

/// Sent by the handshake handler once the session keys are agreed.
struct HandshakeCompletedEvent: Sendable {
    let keys: SessionKeys
}
