import TTBasics
public import TTTransport

/// The TapeTrack-style logon string given with `-S`: `user:password@server:port`.
///
/// Grammar (every part may be left out and takes its default):
/// - `user:password@server:port` — a password that starts with `-` is clear text and the `-` is not part of it
///   (`fred:-secret` logs in with `secret`); a password without the prefix is taken as written; the last `@`
///   ends the credentials, so a password holding `@` needs the server written after it;
/// - `server` may be a name, an IPv4 address or a bracketed IPv6 address (`[::1]:5000`);
/// - without `@` the string holds credentials only (`user` or `user:password`);
/// - a user without a password leaves ``password`` `nil`, so the caller prompts for it on a terminal;
/// - nothing given at all means `batch:batch@localhost:5000`.
public struct LogonString: Sendable, Hashable, CustomStringConvertible {
    /// The default user and password of a framework server.
    public static let defaultUser = "batch"
    /// The default password, used only when the user is defaulted too.
    public static let defaultPassword = "batch"
    /// The default server name.
    public static let defaultServer = "localhost"
    /// The framework server's default port.
    public static let defaultPort = 5000

    /// The user to log in as.
    public var user: String
    /// The password, or `nil` when a user was given without one (prompt for it).
    public var password: String?
    /// The server's host name or address, without brackets.
    public var server: String
    /// The server's TCP port.
    public var port: Int

    /// Creates a logon string from its parts.
    public init(
        user: String = defaultUser,
        password: String? = defaultPassword,
        server: String = defaultServer,
        port: Int = defaultPort
    ) {
        self.user = user
        self.password = password
        self.server = server
        self.port = port
    }

    /// Parses `user:password@server:port`.
    /// - Throws: `TransportError` of category `configuration` (the one error of every
    ///   parsing API: addresses, proxy URLs, config files) naming what is wrong; never containing the password.
    public init(parsing text: String) throws(TransportError) {
        self.init()
        guard !text.isEmpty else { return }
        let credentials: Substring
        let serverPart: Substring?
        if let at = text.lastIndex(of: "@") {
            credentials = text[..<at]
            serverPart = text[text.index(after: at)...]
        } else {
            credentials = text[...]
            serverPart = nil
        }
        if !credentials.isEmpty {
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                var password = credentials[credentials.index(after: colon)...]
                if password.first == "-" { password = password.dropFirst() }
                self.user = user.isEmpty ? Self.defaultUser : String(user)
                self.password = String(password)
            } else {
                self.user = String(credentials)
                self.password = nil
            }
        }
        if let serverPart, !serverPart.isEmpty {
            (server, port) = try Self.parseServer(serverPart, afterPassword: password != nil)
        }
    }

    /// The server part, read by the one host:port parser (``HostPort``); an empty host or port takes the default
    /// (`@:6000`, `@host:`).
    /// - Parameter afterPassword: a password was given: the text may be the tail of one holding `@` (written
    ///   without the server part), so an error quotes neither it nor its port; only a character no host may
    ///   hold is named (what makes it no host, and all a user needs to find a typo).
    private static func parseServer(_ text: Substring, afterPassword: Bool) throws(TransportError) -> (String, Int) {
        var text = String(text)
        if text.hasPrefix(":"), !text.dropFirst().contains(":") { text = defaultServer + text }
        if text.hasSuffix(":") { text.removeLast() }
        do {
            let parsed = try HostPort(parsing: text, defaultPort: defaultPort)
            return (parsed.host, parsed.port)
        } catch {
            guard afterPassword else {
                throw failure("server \(error.description) (expected user:password@server:port)")
            }
            let reason =
                switch error.problem {
                case .invalidPort(_, let lowest): "the port is not a number from \(lowest) to 65535"
                case .invalidHostName: "the host is not a valid host name or address"
                default: error.reason
                }
            throw failure(
                "what follows the last '@' is not a server (\(reason); not shown, as it may be part of the "
                    + "password). Expected user:password@server:port; a password holding '@' needs the server "
                    + "written after it"
            )
        }
    }

    /// `user@server:port`, never the password.
    public var description: String {
        "\(user)@\(HostPort(host: server, port: port))"
    }

    private static func failure(_ problem: String) -> TransportError {
        TransportError(stage: .serverConnect, category: .configuration, message: "logon string: \(problem)")
    }
}
