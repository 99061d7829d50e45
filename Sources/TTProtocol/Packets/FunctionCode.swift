/// The function a request asks the server to run. Unknown codes are representable, so a newer peer's
/// functions never fail to parse.
public struct FunctionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Liveness check; empty payload, no login needed.
    public static let ping = FunctionCode(rawValue: 1)
    /// Log in with a ``LoginPayload``.
    public static let login = FunctionCode(rawValue: 2)
    /// Log out; the session stays open.
    public static let logout = FunctionCode(rawValue: 3)
    /// Returns the payload unchanged (tests and benchmarks).
    public static let echo = FunctionCode(rawValue: 4)

    /// Whether the server requires a logged-in session for this function.
    public var requiresLogin: Bool { self == .logout }

    /// Whether running the function twice has the same effect as running it once (Ping, Echo).
    ///
    /// A client may send an idempotent request again on a new connection when the old one broke after the
    /// request left; any other request is sent again only when it provably never left (docs/ARCHITECTURE.md).
    /// Unknown codes are not idempotent.
    public var isIdempotent: Bool { self == .ping || self == .echo }

    /// The name used in traces (`Ping`), or `Function(<code>)` for codes this build does not know.
    public var description: String {
        switch self {
        case .ping: "Ping"
        case .login: "Login"
        case .logout: "Logout"
        case .echo: "Echo"
        default: "Function(\(rawValue))"
        }
    }
}
