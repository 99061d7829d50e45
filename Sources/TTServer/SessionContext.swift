import Logging
import NIOPosix
import TTProtocol

/// What every session of one server shares: configuration, the thread pool and the logger.
struct SessionContext: Sendable {
    let configuration: ServerConfiguration
    let threadPool: NIOThreadPool
    let logger: Logger
    let gzip = GzipCodec()

    var limits: ProtocolLimits { configuration.limits }
}

/// Sent to every session when the server shuts down: finish what was received, then close.
struct ServerQuiesceEvent: Sendable {}

/// Sent by the handshake handler once the session keys are agreed.
struct HandshakeCompletedEvent: Sendable {
    let keys: SessionKeys
}
