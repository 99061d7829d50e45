/// A host and TCP port: a framework server or a proxy.
///
/// IPv6 addresses are stored without brackets and printed with them (`[::1]:5000`), so the printed form can
/// always be parsed back and used in a CONNECT line.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// A host name, an IPv4 address, or an IPv6 address without brackets.
    public var host: String
    /// The TCP port, 1...65535.
    public var port: Int

    /// An endpoint from its parts; `host` may be given with or without brackets.
    public init(host: String, port: Int) {
        if host.hasPrefix("["), host.hasSuffix("]") {
            self.host = String(host.dropFirst().dropLast())
        } else {
            self.host = host
        }
        self.port = port
    }

    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
    ///
    /// - Parameters:
    ///   - text: the address as a user typed it.
    ///   - defaultPort: the port when `text` has none; `nil` makes the port mandatory.
    /// - Throws: ``TransportError`` of category ``TransportError/Category/configuration``.
    public init(parsing text: String, defaultPort: Int?) throws {
        let parts = try Self.split(text)
        guard let port = parts.port ?? defaultPort else {
            throw TransportError.configuration("\"\(text)\" has no port; write HOST:PORT")
        }
        self.init(host: parts.host, port: port)
    }

    /// The host as it appears in a URL, a CONNECT line or a `Host` header: IPv6 in brackets.
    public var hostForURL: String {
        isIPv6 ? "[\(host)]" : host
    }

    /// Whether the host is an IPv6 address literal.
    public var isIPv6: Bool { host.contains(":") }

    public var description: String { "\(hostForURL):\(port)" }

    /// Splits `text` into a host and an optional port, validating both.
    static func split(_ text: String) throws -> (host: String, port: Int?) {
        let hostPart: Substring
        let portPart: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw TransportError.configuration("\"\(text)\" has \"[\" without \"]\"")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portPart = nil
            } else if rest.hasPrefix(":") {
                portPart = rest.dropFirst()
            } else {
                throw TransportError.configuration("\"\(text)\" has text after \"]\" that is not :PORT")
            }
            guard hostPart.contains(":") else {
                throw TransportError.configuration("\"\(text)\": only IPv6 addresses go in brackets")
            }
        } else {
            let colons = text.filter { $0 == ":" }.count
            if colons > 1 {
                throw TransportError.configuration(
                    "\"\(text)\" looks like an IPv6 address: put it in brackets, e.g. [::1]:5000"
                )
            }
            if let colon = text.firstIndex(of: ":") {
                hostPart = text[..<colon]
                portPart = text[text.index(after: colon)...]
            } else {
                hostPart = Substring(text)
                portPart = nil
            }
        }
        guard !hostPart.isEmpty else {
            throw TransportError.configuration("\"\(text)\" has no host name")
        }
        guard hostPart.allSatisfy({ !$0.isWhitespace && !"/@?#[]".contains($0) }) || hostPart.contains(":") else {
            throw TransportError.configuration("\"\(text)\" is not a valid host name")
        }
        guard let portPart else { return (String(hostPart), nil) }
        guard let port = Int(portPart), (1...65535).contains(port), portPart.allSatisfy(\.isASCII) else {
            throw TransportError.configuration("\"\(text)\" has an invalid port \"\(portPart)\" (1-65535)")
        }
        return (String(hostPart), port)
    }
}
