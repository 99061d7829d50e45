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
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ListenAddressError(text: text, problem: "missing ']' after the IPv6 address")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else {
                    throw ListenAddressError(text: text, problem: "expected ':PORT' after ']'")
                }
                portText = rest.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            if host.contains(":") {
                throw ListenAddressError(text: text, problem: "write IPv6 addresses in brackets, e.g. [::1]:5000")
            }
            portText = text[text.index(after: colon)...]
        } else {
            host = Substring(text)
        }
        guard !host.isEmpty else {
            throw ListenAddressError(text: text, problem: "the host is empty (use 0.0.0.0 or [::] for all addresses)")
        }
        var port = defaultPort
        if let portText {
            guard let value = Int(portText), (0...65535).contains(value) else {
                throw ListenAddressError(text: text, problem: "the port must be a number from 0 to 65535")
            }
            port = value
        }
        self.init(host: String(host), port: port)
    }

    /// `HOST:PORT`, with IPv6 hosts in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A listen address that cannot be parsed.
public struct ListenAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it.
    public var problem: String

    public var description: String { "invalid listen address '\(text)': \(problem)" }
}
