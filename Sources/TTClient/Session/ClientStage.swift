import TTTransport

/// One step of reaching the server, as `tt-connect check` prints them.
public enum ClientStage: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// TCP (and TLS, for an https:// proxy) to the proxy.
    case proxyConnect = "proxy"
    /// The CONNECT exchange, authentication included.
    case proxyTunnel = "tunnel"
    /// TCP straight to the server.
    case serverConnect = "server"
    /// The TLS session with the server (through the tunnel, or direct with `--tls always`).
    case tls = "tls"
    /// The framework handshake and the server identity check.
    case handshake = "handshake"
    /// The Login function.
    case login = "login"
    /// A request on the established session.
    case request = "request"

    public var description: String { rawValue }

    init(_ stage: TransportError.Stage) {
        switch stage {
        case .proxyConnect: self = .proxyConnect
        case .proxyTunnel: self = .proxyTunnel
        case .serverConnect: self = .serverConnect
        case .tls: self = .tls
        case .io: self = .request
        }
    }
}

/// Something a ``FrameworkClient`` did, for callers that show progress (`check`) or count reconnects.
public enum ClientEvent: Sendable {
    /// A stage finished successfully after `duration`; `detail` says what was found (address, status, key).
    case stageCompleted(ClientStage, duration: Duration, detail: String)
    /// The session broke and the client is opening a new one; `reason` says why.
    case reconnecting(reason: String)
}
