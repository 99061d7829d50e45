/// Bounds a peer must respect; a violation closes only that connection (PROTOCOL.md §4).
public struct ProtocolLimits: Hashable, Sendable {
    /// The largest frame length `L` (ciphertext plus tag) accepted or produced.
    public var maxFrameSize: Int
    /// The largest packet a frame may inflate to; inflating stops as soon as it would be exceeded.
    public var maxInflatedSize: Int
    /// How long a peer may take to complete the handshake.
    public var handshakeTimeout: Duration
    /// How long a session may stay silent before the server closes it.
    public var idleTimeout: Duration
    /// How many connections a server holds at once; more are closed at once.
    public var maxConnections: Int

    /// - Parameters:
    ///   - maxFrameSize: Largest frame length in bytes.
    ///   - maxInflatedSize: Largest inflated packet in bytes.
    ///   - handshakeTimeout: Handshake deadline.
    ///   - idleTimeout: Idle session timeout.
    ///   - maxConnections: Concurrent connection cap of a server.
    public init(
        maxFrameSize: Int = 16 << 20,
        maxInflatedSize: Int = 64 << 20,
        handshakeTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(300),
        maxConnections: Int = 10_000
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxInflatedSize = maxInflatedSize
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    /// The defaults of PROTOCOL.md §4: 16 MiB frames, 64 MiB inflated, 10 s handshake, 300 s idle,
    /// 10,000 connections.
    public static let `default` = ProtocolLimits()
}
