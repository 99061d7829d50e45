import CCurl

/// Why opening or using a transport failed, and at which stage.
///
/// The ``category`` says what kind of failure it was (the command-line tools derive their exit code from it);
/// ``description`` says what failed, where (host:port), and what to do. It never contains a password.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The step of building a connection that failed.
    public enum Stage: String, Sendable, Hashable, CustomStringConvertible {
        /// Reaching the proxy itself (name resolution, TCP, TLS to an https:// proxy).
        case proxyConnect = "proxy connect"
        /// The CONNECT exchange with the proxy.
        case proxyTunnel = "proxy tunnel"
        /// Reaching the server directly.
        case serverConnect = "server connect"
        /// The TLS handshake with the server, after the TCP connect or the proxy's `200`.
        case tls = "tls"
        /// Sending or receiving on an established connection.
        case io = "i/o"

        public var description: String { rawValue }
    }

    /// What kind of failure it was; new categories never break callers (a struct, not an enum).
    public struct Category: Sendable, Hashable, CustomStringConvertible {
        private enum Code: Int, Sendable, Hashable {
            case internalError, configuration, proxyUnreachable, proxyAuthenticationRequired, proxyRefused
            case proxyGatewayFailure, proxyProtocolViolation, serverUnreachable, timedOut, connectionClosed
            case tlsHandshakeFailed, tlsVerificationFailed, tunnelInspected
        }
        private let code: Code

        /// A bug or a failure of the system (out of memory, libcurl missing a feature).
        public static let internalError = Category(code: .internalError)
        /// A bad address, proxy URL or config file.
        public static let configuration = Category(code: .configuration)
        /// The proxy's name does not resolve, or it refused or did not accept the TCP connection.
        public static let proxyUnreachable = Category(code: .proxyUnreachable)
        /// The proxy answered 407: credentials are missing or were rejected.
        public static let proxyAuthenticationRequired = Category(code: .proxyAuthenticationRequired)
        /// The proxy refused the tunnel (403, 405, other 4xx and 5xx but 502-504).
        public static let proxyRefused = Category(code: .proxyRefused)
        /// The proxy could not reach the target (502, 503, 504).
        public static let proxyGatewayFailure = Category(code: .proxyGatewayFailure)
        /// The proxy's answer is not a valid CONNECT answer (garbage, TLS, oversized, closed).
        public static let proxyProtocolViolation = Category(code: .proxyProtocolViolation)
        /// A direct connection to the server failed (name, refused, unreachable).
        public static let serverUnreachable = Category(code: .serverUnreachable)
        /// The deadline passed; ``TransportError/stage`` says where.
        public static let timedOut = Category(code: .timedOut)
        /// An established connection was closed or reset by the peer.
        public static let connectionClosed = Category(code: .connectionClosed)

        /// The TLS handshake with the server failed: it does not speak TLS, or something in between broke it.
        public static let tlsHandshakeFailed = Category(code: .tlsHandshakeFailed)
        /// The server's TLS certificate did not verify (only checked when asked: `--tls-verify`).
        public static let tlsVerificationFailed = Category(code: .tlsVerificationFailed)
        /// The proxy inspects the tunnel and blocked it (TLS interception, protocol filtering).
        public static let tunnelInspected = Category(code: .tunnelInspected)

        public var description: String {
            switch code {
            case .internalError: "internal error"
            case .configuration: "configuration"
            case .proxyUnreachable: "proxy unreachable"
            case .proxyAuthenticationRequired: "proxy authentication required"
            case .proxyRefused: "proxy refused the tunnel"
            case .proxyGatewayFailure: "proxy could not reach the target"
            case .proxyProtocolViolation: "invalid proxy answer"
            case .serverUnreachable: "server unreachable"
            case .timedOut: "timed out"
            case .connectionClosed: "connection closed"
            case .tlsHandshakeFailed: "TLS handshake failed"
            case .tlsVerificationFailed: "TLS certificate not verified"
            case .tunnelInspected: "the proxy inspects the tunnel and blocked it"
            }
        }
    }

    /// The stage that failed.
    public var stage: Stage
    /// The kind of failure.
    public var category: Category
    /// The HTTP status of the proxy's answer to CONNECT, when there was one.
    public var proxyStatus: Int?
    /// Authentication schemes the proxy offered on a 407 (`Basic`, `Digest`, `NTLM`, `Negotiate`).
    public var offeredAuthSchemes: [String]
    /// The libcurl result code of the failed call, for diagnostics (`nil` for errors outside libcurl).
    public var libcurlCode: Int?
    /// The human explanation: what failed, where, and what to do.
    public var message: String
    /// How long the TCP (and TLS) connect to the proxy took, when the failure came after it (stage
    /// ``Stage/proxyTunnel``), so a stage-by-stage report can show the proxy stage as passed.
    public var proxyConnectTime: Duration?
    /// The connection that was up when a later stage failed inside it (stage ``Stage/tls``: the proxy's tunnel or
    /// the TCP connect, with their times), so a stage-by-stage report can show those stages as passed.
    public var connection: ConnectionReport?

    /// Creates an error; `message` must already be free of secrets.
    public init(
        stage: Stage,
        category: Category,
        message: String,
        proxyStatus: Int? = nil,
        offeredAuthSchemes: [String] = [],
        libcurlCode: Int? = nil
    ) {
        self.stage = stage
        self.category = category
        self.message = message
        self.proxyStatus = proxyStatus
        self.offeredAuthSchemes = offeredAuthSchemes
        self.libcurlCode = libcurlCode
    }

    public var description: String { message }

    package static func configuration(_ message: String) -> TransportError {
        TransportError(stage: .serverConnect, category: .configuration, message: message)
    }
}

extension TransportError {
    /// Whether connecting again soon may succeed: the TCP connection to the server or the proxy was refused or
    /// found no route (a balancer's backend restarting, a listener not up yet). A name that does not resolve, a
    /// TLS failure, a proxy's refusal or a timeout is not: trying again would only repeat it.
    public var isTransientConnectFailure: Bool {
        libcurlCode == Int(CURLE_COULDNT_CONNECT.rawValue)
            && (category == .serverUnreachable || category == .proxyUnreachable)
    }
}
