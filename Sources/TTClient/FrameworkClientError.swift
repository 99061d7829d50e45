public import TTTransport

/// Why a ``FrameworkClient`` operation failed: at which stage, in which category (which decides the exit code
/// of the command-line tools), and a message for the person at the terminal. Never contains a secret.
public struct FrameworkClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure; mirrors the exit codes of the table in README.md ("Exit codes").
    public struct Category: Sendable, Hashable, CustomStringConvertible {
        /// The exit code of the command-line tools for this category.
        public let exitCode: Int32
        private let name: String

        private init(_ exitCode: Int32, _ name: String) {
            self.exitCode = exitCode
            self.name = name
        }

        /// A bug or system failure. Exit 1.
        public static let internalError = Category(1, "internal error")
        /// Bad flags, logon string, proxy URL or config file. Exit 2.
        public static let usage = Category(2, "usage")
        /// The proxy's name does not resolve, or it refused the connection. Exit 3.
        public static let proxyUnreachable = Category(3, "proxy unreachable")
        /// The proxy wants credentials, or rejected them (407). Exit 4.
        public static let proxyAuthenticationRequired = Category(4, "proxy authentication required")
        /// The proxy refused the tunnel (403, 405, other 4xx). Exit 5.
        public static let proxyRefused = Category(5, "proxy refused the tunnel")
        /// The proxy could not reach the server (502, 503, 504). Exit 6.
        public static let proxyGatewayFailure = Category(6, "proxy could not reach the server")
        /// The proxy's answer is not a CONNECT answer. Exit 7.
        public static let proxyProtocolViolation = Category(7, "invalid proxy answer")
        /// The server cannot be reached directly, or closed the session. Exit 8.
        public static let serverUnreachable = Category(8, "server unreachable")
        /// The peer does not speak the framework protocol. Exit 9.
        public static let notFrameworkServer = Category(9, "not a framework server")
        /// The server's identity key is not the pinned or known one. Exit 10.
        public static let identityMismatch = Category(10, "server identity mismatch")
        /// Login was rejected. Exit 11.
        public static let loginRejected = Category(11, "login rejected")
        /// A deadline passed. Exit 12.
        public static let timedOut = Category(12, "timed out")
        /// The proxy inspects the tunnel and blocked it (TLS interception, protocol filtering); the message names
        /// what it saw and what to ask the administrator. Exit 13.
        public static let tunnelInspected = Category(13, "the proxy inspects the tunnel and blocked it")
        /// The server answered `Server busy` (RC 5): it is overloaded right now, nothing was wrong with the
        /// request or the credentials; try again later. Exit 14.
        public static let serverBusy = Category(14, "server busy")
        /// The connection was lost after a request that is not idempotent was sent: the server may or may not
        /// have run it, and the client did not send it again. Exit 15.
        public static let outcomeUnknown = Category(15, "connection lost after the request was sent")

        public var description: String { name }

        init(_ transport: TransportError.Category) {
            switch transport {
            case .configuration: self = .usage
            case .proxyUnreachable: self = .proxyUnreachable
            case .proxyAuthenticationRequired: self = .proxyAuthenticationRequired
            case .proxyRefused: self = .proxyRefused
            case .proxyGatewayFailure: self = .proxyGatewayFailure
            case .proxyProtocolViolation: self = .proxyProtocolViolation
            case .serverUnreachable, .connectionClosed: self = .serverUnreachable
            case .timedOut: self = .timedOut
            case .tlsHandshakeFailed: self = .notFrameworkServer
            case .tlsVerificationFailed: self = .identityMismatch
            case .tunnelInspected: self = .tunnelInspected
            default: self = .internalError
            }
        }
    }

    /// The stage that failed.
    public var stage: ClientStage
    /// The kind of failure.
    public var category: Category
    /// What failed, where, and what to do.
    public var message: String
    /// The HTTP status of the proxy's answer to CONNECT, when there was one.
    public var proxyStatus: Int?

    /// Creates an error; `message` must be free of secrets.
    public init(stage: ClientStage, category: Category, message: String, proxyStatus: Int? = nil) {
        self.stage = stage
        self.category = category
        self.message = message
        self.proxyStatus = proxyStatus
    }

    /// Wraps a transport failure, keeping its stage, category, message and proxy status.
    public init(_ error: TransportError) {
        self.init(
            stage: ClientStage(error.stage),
            category: Category(error.category),
            message: error.message,
            proxyStatus: error.proxyStatus
        )
    }

    public var description: String { message }
}
