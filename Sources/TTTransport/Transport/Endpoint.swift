import TTBasics

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
        self.init(HostPort(host: host, port: port))
    }

    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
    ///
    /// - Parameters:
    ///   - text: the address as a user typed it.
    ///   - defaultPort: the port when `text` has none; `nil` makes the port mandatory.
    /// - Throws: ``TransportError`` of category ``TransportError/Category/configuration``.
    public init(parsing text: String, defaultPort: Int?) throws(TransportError) {
        do {
            self.init(try HostPort(parsing: text, defaultPort: defaultPort))
        } catch {
            throw TransportError.configuration(error.description)
        }
    }

    /// Checks the host (``HostPort/hostProblem(_:)``: a DNS name or an IP address) and the port (1–65535). Every
    /// transport runs it before dialling, so an endpoint made with ``init(host:port:)`` by a library caller or
    /// from a config file is held to the same rule as a parsed one.
    /// - Throws: ``TransportError`` of category ``TransportError/Category/configuration`` naming the problem.
    public func validate() throws(TransportError) {
        if let problem = HostPort.hostProblem(host) {
            throw .configuration(HostPortError(text: description, problem: problem).description)
        }
        guard (1...65535).contains(port) else {
            throw .configuration(
                HostPortError(text: description, problem: .invalidPort(String(port), lowest: 1)).description
            )
        }
    }

    private init(_ hostPort: HostPort) {
        host = hostPort.host
        port = hostPort.port
    }

    private var hostPort: HostPort { HostPort(host: host, port: port) }

    /// The host as it appears in a URL, a CONNECT line or a `Host` header: IPv6 in brackets.
    public var hostForURL: String { hostPort.bracketedHost }

    /// Whether the host is an IPv6 address literal.
    public var isIPv6: Bool { hostPort.isIPv6 }

    public var description: String { hostPort.description }
}
