public import TTProtocol
public import TTTransport

/// How a client reaches the server: straight, or through an HTTP CONNECT proxy.
public enum Route: Sendable {
    /// A direct TCP connection.
    case direct
    /// A tunnel through `proxy`, built with `options`.
    case proxy(HTTPProxy, HTTPProxyOptions)
    /// The first reachable entry of a proxy auto-configuration (PAC) answer (a proxy, or direct).
    case autoConfigured(ProxyAutoConfigRoute, HTTPProxyOptions)
}

/// How the client decides whether the server's identity key is the right one.
///
/// There is no default: every ``ClientConfiguration`` names one, so no program skips the man-in-the-middle check
/// without saying so. The command-line tools use ``pinned(_:)`` with `--server-key`, otherwise
/// ``trustOnFirstUse(_:)`` with the user's `~/.config/tt-connect/known_servers` (``KnownServers/defaultPath``);
/// a program that wants the same writes `.trustOnFirstUse(KnownServers())`.
public enum IdentityPolicy: Sendable {
    /// Only the key with this fingerprint is accepted.
    case pinned(IdentityFingerprint)
    /// The first key seen for a server is remembered in the known-servers file; later a different one is refused,
    /// and so is one that differs from the key a client's earlier connection presented (also when the file could
    /// not be written).
    case trustOnFirstUse(KnownServers)
    /// Any key is accepted (the connection is still encrypted, but a man in the middle is not detected).
    case acceptAny

    /// Whether any key is accepted, on reconnects too.
    var acceptsAnyKey: Bool {
        if case .acceptAny = self { true } else { false }
    }
}

/// What the client does when the server closed or timed out the session between two requests.
///
/// A framework server times idle sessions out and a network may drop them. With ``once`` (the default) the
/// client then opens a new connection — handshake and login again — and sends the request there, but only when
/// doing so cannot run it twice:
/// - no byte of the request was written: just before writing, a zero-timeout `poll(2)` found the idle connection
///   closed or reset (how a server's idle timeout shows), or the first write failed; or
/// - its function is idempotent (`FunctionCode.isIdempotent`: Ping, Echo).
///
/// Otherwise, when the connection is lost after any byte of the request was written, the server may have run
/// it: the client does not send it again and throws ``FrameworkClientError`` with category
/// ``FrameworkClientError/Category/outcomeUnknown`` (exit 15), and the caller decides. A Login that was written
/// is never sent again either. A timeout is never retried.
///
/// The same budget bounds retries of connection setup: a refused TCP connection or a close before the framework
/// hello is tried again with jittered exponential backoff within ``ClientConfiguration/connectTimeout``. A Login
/// answered "Server busy" (not checked) is waited out the same way, without taking from the budget.
public struct ReconnectPolicy: Sendable, Hashable {
    /// How many new connections one request may open after the one it was sent on broke.
    public var maxReconnects: Int

    /// Creates a policy allowing `maxReconnects` new connections per request.
    public init(maxReconnects: Int) {
        self.maxReconnects = max(0, maxReconnects)
    }

    /// Reconnect once per request (the default).
    public static let once = ReconnectPolicy(maxReconnects: 1)
    /// Never reconnect: a broken session is an error (`check` uses this to report what really happened).
    public static let never = ReconnectPolicy(maxReconnects: 0)
}

/// A user name and password for the Login function. The description never shows the password.
public struct Credentials: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// The user name.
    public var user: String
    /// The password (sent only inside the encrypted session).
    public var password: String

    /// Creates credentials.
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var description: String { "\(user):<redacted>" }
    /// `dump()` and debuggers show the user, never the password.
    public var customMirror: Mirror { Mirror(self, children: ["user": user, "password": "<redacted>"]) }
}

/// Everything a ``FrameworkClient`` needs to reach and use one server.
public struct ClientConfiguration: Sendable {
    /// The framework server.
    public var server: Endpoint
    /// Direct, or through a proxy.
    public var route: Route
    /// Log in with these after every handshake (`nil`: no login; Ping and Echo still work).
    public var credentials: Credentials?
    /// How the server's identity is checked.
    public var identity: IdentityPolicy
    /// Bounds opening the connection, the tunnel and the handshake together.
    public var connectTimeout: Duration
    /// Bounds one request: sending it and receiving its whole answer.
    public var requestTimeout: Duration
    /// Whether a request goes out again on a new connection when the session broke (only when that cannot run it
    /// twice: see ``ReconnectPolicy``).
    public var reconnect: ReconnectPolicy
    /// Frame and inflated-size limits for answers.
    public var limits: ProtocolLimits
    /// Whether the connection runs inside TLS (by default through a proxy only), and how the certificate is
    /// checked; the framework's own encryption and identity check run inside it either way.
    public var tls: TargetTLSOptions

    /// Creates a configuration; the server and how its identity is checked are required (``IdentityPolicy``).
    public init(
        server: Endpoint,
        route: Route = .direct,
        credentials: Credentials? = nil,
        identity: IdentityPolicy,
        connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(30),
        reconnect: ReconnectPolicy = .once,
        limits: ProtocolLimits = .default,
        tls: TargetTLSOptions = TargetTLSOptions()
    ) {
        self.server = server
        self.route = route
        self.credentials = credentials
        self.identity = identity
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.reconnect = reconnect
        self.limits = limits
        self.tls = tls
    }
}
