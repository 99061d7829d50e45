import TTBasics

/// A `HOST:PORT` the server listens on; IPv6 hosts are written in brackets (`[::1]:5000`).
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address to bind: an IPv4 or IPv6 literal or a name that resolves to one.
    public var host: String
    /// The port to bind; 0 asks the kernel for a free one (read it back from ``FrameworkServer/boundAddresses``).
    public var port: Int

    /// - Parameters:
    ///   - host: The address to bind, without brackets.
    ///   - port: The port, 0 for an ephemeral one.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[V6]:PORT`, or a bare `HOST` / `[V6]` that takes `defaultPort`.
    /// - Throws: ``ListenAddressError`` naming the text and what is wrong with it.
    public init(parsing text: String, defaultPort: Int = 5000) throws(ListenAddressError) {
        do {
            let parsed = try HostPort(parsing: text, defaultPort: defaultPort, allowsPortZero: true)
            self.init(host: parsed.host, port: parsed.port)
        } catch {
            let hint = error.problem == .emptyHost ? " (use 0.0.0.0 or [::] for all addresses)" : ""
            throw ListenAddressError(text: text, problem: error.reason + hint)
        }
    }

    /// Parses an admin listen address: like ``init(parsing:defaultPort:)``, except that a bare port (digits only)
    /// means `127.0.0.1:PORT`, so the admin port stays on loopback unless a host is named.
    /// - Throws: ``ListenAddressError`` naming the text and what is wrong with it.
    public init(parsingAdmin text: String) throws(ListenAddressError) {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            try self.init(parsing: "127.0.0.1:" + text)
        } else {
            try self.init(parsing: text)
        }
    }

    /// `HOST:PORT`, with IPv6 hosts in brackets.
    public var description: String { HostPort(host: host, port: port).description }
}

/// A listen address that cannot be parsed.
public struct ListenAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it.
    public var problem: String

    public var description: String { "invalid listen address '\(text)': \(problem)" }
}
