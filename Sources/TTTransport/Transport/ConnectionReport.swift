/// What happened while a transport was opened: where it went, how long each stage took, what the proxy said.
///
/// `check` prints it stage by stage and the API trace records it; it never holds a credential.
public struct ConnectionReport: Sendable, Hashable {
    /// The framework server the connection is for.
    public var target: Endpoint
    /// The proxy used, as configured (`nil` for a direct connection).
    public var proxy: Endpoint?
    /// The numeric address actually connected to (the server's, or the proxy's), e.g. `127.0.0.1:3128`.
    public var connectedAddress: String?
    /// Time until the TCP connection (to the server, or to the proxy) was established.
    public var tcpConnectTime: Duration
    /// Time from the TCP connection to the proxy until its final answer to CONNECT: the TLS handshake with an
    /// https:// proxy and every authentication round trip included.
    public var tunnelTime: Duration?
    /// The HTTP status of the proxy's final answer to CONNECT.
    public var proxyStatus: Int?
    /// Authentication schemes the proxy offered in a 407 during the exchange.
    public var offeredAuthSchemes: [String]
    /// The authentication scheme our last CONNECT carried (`Basic`, `Digest`, `NTLM`, `Negotiate`), if any.
    public var authSchemeUsed: String?
    /// Each authentication scheme tried and its verdict, in order (`Negotiate: no Kerberos ticket`,
    /// `Basic: accepted`); empty when the proxy asked for none. ``ProxyAuthFallback`` explains the order.
    public var authAttempts: [String] = []
    /// Whom the proxy accepted: the user of Basic, Digest or NTLM, the ticket's principal for Negotiate
    /// (`alice@TT.TEST`); `nil` without authentication.
    public var authenticatedAs: String?
    /// Set when the password went as Basic to a plain `http://` proxy after a stronger scheme it offered did
    /// not pass: what happened, and the remedy. `check` shows it on the tunnel line, `-v` before the attempt.
    public var authWarning: String?
    /// The TLS session with the server, when the connection runs inside TLS (``TargetTLSOptions``).
    public var tls: TLSSessionReport?

    /// A report for a connection to `target`, optionally through `proxy`.
    public init(
        target: Endpoint,
        proxy: Endpoint? = nil,
        connectedAddress: String? = nil,
        tcpConnectTime: Duration = .zero,
        tunnelTime: Duration? = nil,
        proxyStatus: Int? = nil,
        offeredAuthSchemes: [String] = [],
        authSchemeUsed: String? = nil
    ) {
        self.target = target
        self.proxy = proxy
        self.connectedAddress = connectedAddress
        self.tcpConnectTime = tcpConnectTime
        self.tunnelTime = tunnelTime
        self.proxyStatus = proxyStatus
        self.offeredAuthSchemes = offeredAuthSchemes
        self.authSchemeUsed = authSchemeUsed
    }
}
