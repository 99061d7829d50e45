/// Which HTTP authentication scheme to use with the proxy.
public enum ProxyAuthScheme: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Let libcurl pick the best scheme the proxy offers (the default).
    case any
    case basic
    case digest
    case ntlm
    case negotiate

    /// Parses a config-file or command-line value (`any`, `basic`, `digest`, `ntlm`, `negotiate`), any case.
    public init?(parsing text: String) {
        self.init(rawValue: text.lowercased())
    }

    public var description: String { rawValue }
}

/// A user name and password for the proxy.
///
/// Every printed form hides the password, so a credential that ends up in a log or an error shows no secret.
public struct ProxyCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The user name (may contain a `DOMAIN\` prefix for NTLM).
    public var user: String
    /// The password; never printed.
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Parses `USER:PASS` (the first colon separates; the password may contain colons). A missing `:PASS`
    /// gives an empty password.
    public init(parsing text: String) {
        if let colon = text.firstIndex(of: ":") {
            self.init(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        } else {
            self.init(user: text, password: "")
        }
    }

    public var description: String { "\(user):<redacted>" }
    public var debugDescription: String { "ProxyCredentials(user: \(user), password: <redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: ["user": user, "password": "<redacted>"]) }
}
