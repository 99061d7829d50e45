import TTBasics

/// The `host:port` authority of a CONNECT request, with IPv6 literals in brackets (`[::1]:5000`).
public struct ConnectTarget: Sendable, Hashable, CustomStringConvertible {
    /// The host name or IP literal, without brackets.
    public var host: String
    /// The TCP port, 1–65535.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses a CONNECT request target; `nil` when it is not `host:port` or `[v6]:port` with a valid port.
    ///
    /// Stricter than a user's `host:port`: the port is mandatory and the host may hold only the characters of a
    /// DNS name or an IP literal, since the text comes from an untrusted client and goes to logs and the resolver.
    public init?(parsing authority: String) {
        guard let parsed = try? HostPort(parsing: authority), parsed.host.allSatisfy(Self.isHostCharacter) else {
            return nil
        }
        self.init(host: parsed.host, port: parsed.port)
    }

    /// `host:port`, with IPv6 literals in brackets.
    public var description: String { HostPort(host: host, port: port).description }

    private static func isHostCharacter(_ character: Character) -> Bool {
        guard character.isASCII, let value = character.asciiValue else { return false }
        switch value {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }
}
