public import FoundationEssentials
import NIOCore
import TTBasics

/// One line of the access log: a request and what became of it. Never holds credentials.
public struct AccessLogEntry: Sendable, CustomStringConvertible {
    /// When the request head was complete.
    public var time: Date
    /// The client's address, `ip:port`.
    public var client: String
    /// The request line, with control characters escaped and truncated to 200 characters.
    public var requestLine: String
    /// The HTTP status answered (200 for a tunnel), or 0 when the client left before an answer.
    public var status: Int
    /// A word for the outcome: `tunnel`, `auth-required`, `forbidden`, `refused`, `timeout`, `scenario`….
    public var outcome: String
    /// Bytes from the client to the target, through the tunnel.
    public var bytesUp: Int
    /// Bytes from the target to the client, through the tunnel.
    public var bytesDown: Int
    /// From the complete request head to the end of the request (tunnel closed or answer written).
    public var duration: Duration
    /// The user whose password the proxy accepted (escaped as the request line is); `nil` without one.
    public var user: String? = nil

    /// `2025-01-02T03:04:05.678Z 127.0.0.1:50000 "CONNECT example.com:443 HTTP/1.1" 200 tunnel up=10 down=20 ms=5`,
    /// then ` user=alice` for an authenticated tunnel.
    public var description: String {
        "\(Self.format(time)) \(client) \"\(requestLine)\" \(status) \(outcome) up=\(bytesUp) down=\(bytesDown)"
            + " ms=\(duration.wholeMilliseconds)" + (user.map { " user=\(Self.escaped($0))" } ?? "")
    }

    private static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Escapes control and non-ASCII characters and cuts long lines, so a hostile request line cannot forge log
    /// lines; user information (`user:pass@host`) is removed: everything before the last `@` but a leading method
    /// and the one separator after it. Not only the second space-separated word: malformed lines are logged too,
    /// and a second space, a tab or any other separator, before the password or inside it, moves the words.
    static func sanitize(_ line: String) -> String {
        let scalars = line.unicodeScalars
        guard let at = scalars.lastIndex(of: "@") else { return escaped(line, forField: false) }
        let isSeparator = { (scalar: Unicode.Scalar) in
            scalar.properties.isWhitespace || scalar.properties.generalCategory == .control
        }
        let method = scalars.prefix { $0.isASCII && $0.properties.isAlphabetic }
        var kept = String.UnicodeScalarView()
        if method.endIndex < at, isSeparator(scalars[method.endIndex]) {
            kept.append(contentsOf: scalars[...method.endIndex])
        }
        kept.append(contentsOf: "[redacted]".unicodeScalars)
        kept.append(contentsOf: scalars[at...])
        return escaped(String(kept), forField: false)
    }

    /// Control characters, non-ASCII, quotes, backslashes and (in a user name) spaces escaped, at most 200
    /// characters: a hostile value cannot forge log lines or fields.
    static func escaped(_ text: String, forField: Bool = true) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if result.count >= 200 {
                result += "..."
                break
            }
            if scalar.isASCII, scalar.value > 0x20 || (scalar == " " && !forField), scalar.value < 0x7F,
                scalar != "\"", scalar != "\\"
            {
                result.unicodeScalars.append(scalar)
            } else {
                result +=
                    scalar.value < 0x100
                    ? "\\x" + NumberText.zeroPadded(scalar.value, width: 2, radix: 16)
                    : "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return result
    }
}

/// Where access log entries go; called from event loop threads, so it must be quick and thread-safe.
public typealias AccessLogSink = @Sendable (AccessLogEntry) -> Void

extension SocketAddress {
    /// `ip:port`, with IPv6 in brackets.
    var logDescription: String {
        guard let ip = ipAddress, let port else { return "unknown" }
        return HostPort(host: ip, port: port).description
    }
}
