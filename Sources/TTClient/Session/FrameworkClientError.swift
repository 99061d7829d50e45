public import TTTransport

/// Why a ``FrameworkClient`` operation failed: at which stage, in which ``Category``, and a message that names
/// the values involved (never a command-line flag, never a secret).
public struct FrameworkClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure; new categories never break callers (a struct, not an enum). The command-line tools
    /// map each to an exit code of their own (docs/CLI.md, "Exit codes"); the library has none.
    public struct Category: Sendable, Hashable, CustomStringConvertible {
        private enum Code: Sendable, Hashable, CaseIterable {
            case internalError, usage, proxyUnreachable, proxyAuthenticationRequired, proxyRefused
            case proxyGatewayFailure, proxyProtocolViolation, serverUnreachable, notFrameworkServer
            case identityMismatch, loginRejected, timedOut, tunnelInspected, outcomeUnknown, serverBusy
        }
        private let code: Code

        private init(code: Code) {
            self.code = code
        }

        /// A bug or system failure.
        public static let internalError = Category(code: .internalError)
        /// A bad value given to the library: logon string, address, proxy URL or config file.
        public static let usage = Category(code: .usage)
        /// The proxy's name does not resolve, or it refused the connection.
        public static let proxyUnreachable = Category(code: .proxyUnreachable)
        /// The proxy wants credentials, or rejected them (407).
        public static let proxyAuthenticationRequired = Category(code: .proxyAuthenticationRequired)
        /// The proxy refused the tunnel (403, 405, other 4xx).
        public static let proxyRefused = Category(code: .proxyRefused)
        /// The proxy could not reach the server (502, 503, 504).
        public static let proxyGatewayFailure = Category(code: .proxyGatewayFailure)
        /// The proxy's answer is not a CONNECT answer.
        public static let proxyProtocolViolation = Category(code: .proxyProtocolViolation)
        /// The server cannot be reached directly, or closed the session.
        public static let serverUnreachable = Category(code: .serverUnreachable)
        /// The peer does not speak the framework protocol.
        public static let notFrameworkServer = Category(code: .notFrameworkServer)
        /// The server's identity key is not the pinned or known one.
        public static let identityMismatch = Category(code: .identityMismatch)
        /// Login was rejected.
        public static let loginRejected = Category(code: .loginRejected)
        /// A deadline passed.
        public static let timedOut = Category(code: .timedOut)
        /// The connection was lost after a request that is not idempotent was sent: the server may or may not
        /// have run it, and the client did not send it again.
        public static let outcomeUnknown = Category(code: .outcomeUnknown)
        /// The proxy inspects the tunnel and blocked it (TLS interception, protocol filtering); the message names
        /// what it saw and what to ask the administrator.
        public static let tunnelInspected = Category(code: .tunnelInspected)
        /// The server answered `Server busy` (RC 5): it is overloaded right now, nothing was wrong with the
        /// request or the credentials; try again later.
        public static let serverBusy = Category(code: .serverBusy)

        /// Every category, so a mapping (such as the command-line exit codes) can be checked for completeness.
        public static var allCategories: [Category] { Code.allCases.map { Category(code: $0) } }

        public var description: String {
            switch code {
            case .internalError: "internal error"
            case .usage: "usage"
            case .proxyUnreachable: "proxy unreachable"
            case .proxyAuthenticationRequired: "proxy authentication required"
            case .proxyRefused: "proxy refused the tunnel"
            case .proxyGatewayFailure: "proxy could not reach the server"
            case .proxyProtocolViolation: "invalid proxy answer"
            case .serverUnreachable: "server unreachable"
            case .notFrameworkServer: "not a framework server"
            case .identityMismatch: "server identity mismatch"
            case .loginRejected: "login rejected"
            case .timedOut: "timed out"
            case .tunnelInspected: "the proxy inspects the tunnel and blocked it"
            case .outcomeUnknown: "connection lost after the request was sent"
            case .serverBusy: "server busy"
            }
        }

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
    /// What the TLS handshake showed of the server's certificate before it failed (stage ``ClientStage/tls``),
    /// when it got that far: the issuer of a certificate a proxy made up, for example.
    public var tls: TLSSessionReport?

    /// Creates an error; `message` must be free of secrets.
    public init(stage: ClientStage, category: Category, message: String, proxyStatus: Int? = nil) {
        self.stage = stage
        self.category = category
        self.message = message
        self.proxyStatus = proxyStatus
    }

    /// Wraps a transport failure, keeping its stage, category, message, proxy status and TLS facts.
    public init(_ error: TransportError) {
        self.init(
            stage: ClientStage(error.stage),
            category: Category(error.category),
            message: error.message,
            proxyStatus: error.proxyStatus
        )
        tls = error.connection?.tls
    }

    public var description: String { message }
}
