import Glibc
import TTBasics

/// What a proxy said about a failed CONNECT beyond its status line: squid's `X-Squid-Error`, the `Server` and
/// `Via` headers, and the `<title>` (or first `<h1>`) of its error page.
///
/// These words tell a target the proxy could not resolve or reach (squid's `ERR_DNS_FAIL`,
/// `ERR_CANNOT_FORWARD`, `ERR_CONNECT_FAIL`; tinyproxy's `500 Unable to connect`) from a tunnel its rules refuse
/// (`ERR_ACCESS_DENIED`), even where the status code alone (squid's `500`) does not.
struct ProxyErrorDetails: Sendable, Hashable {
    /// squid's error name, e.g. `ERR_DNS_FAIL` (from `X-Squid-Error: ERR_DNS_FAIL 0`).
    var squidError: String?
    /// The system error squid met, from the number after its error name (`ERR_CONNECT_FAIL 111`): e.g.
    /// `Connection refused`. `nil` when squid gave `0` or nothing.
    var squidSystemError: String?
    /// The `Server` header, e.g. `squid/5.7`, `tinyproxy/1.11.1`.
    var server: String?
    /// The `Via` header, e.g. `1.1 proxy.corp (squid/5.7)`.
    var via: String?
    /// The error page's `<title>`, or its first `<h1>` when it has no title.
    var pageTitle: String?

    /// squid's names for "could not resolve or reach the target".
    static let squidUnreachableErrors: Set<String> = [
        "ERR_DNS_FAIL", "ERR_CANNOT_FORWARD", "ERR_CONNECT_FAIL", "ERR_READ_TIMEOUT", "ERR_GATEWAY_FAILURE",
        "ERR_CONNECT_TIMEOUT",
    ]

    /// Reads the details from the response head (`Name: value` lines, the status line included or not) and the
    /// start of the body.
    init(headers: [String], body: [UInt8]) {
        for line in headers {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = String(line[line.index(after: colon)...].trimmingWhitespace())
            guard !value.isEmpty else { continue }
            switch line[..<colon].lowercased() {
            case "x-squid-error":
                let words = value.split(separator: " ")
                squidError = words.first.map { Self.bounded(String($0)) }
                squidSystemError = words.dropFirst().first.flatMap { Int32($0) }.flatMap(Self.systemError)
            case "server": server = Self.bounded(value)
            case "via": via = Self.bounded(value)
            default: break
            }
        }
        pageTitle = Self.element("title", in: body) ?? Self.element("h1", in: body)
    }

    init(squidError: String? = nil, server: String? = nil, via: String? = nil, pageTitle: String? = nil) {
        self.squidError = squidError
        self.server = server
        self.via = via
        self.pageTitle = pageTitle
    }

    /// Whether the proxy says it could not resolve or reach the target (rather than refusing the tunnel).
    func saysTargetUnreachable(reason: String?) -> Bool {
        if let squidError { return Self.squidUnreachableErrors.contains(squidError) }
        // tinyproxy: "500 Unable to connect" for a refused port and an unresolvable name alike.
        let words = [reason, pageTitle].compactMap { $0?.lowercased() }
        return words.contains { $0.contains("unable to connect") || $0.contains("could not resolve") }
    }

    /// The proxy's own words for a message, e.g. `squid: ERR_DNS_FAIL; page "ERROR: …"; via 1.1 proxy (squid/5.7)`;
    /// empty when it said nothing beyond the status.
    var summary: String {
        var parts: [String] = []
        if let squidError {
            parts.append("squid: \(squidError)" + (squidSystemError.map { " (\($0))" } ?? ""))
        } else if let server {
            parts.append("server \(server)")
        }
        if let pageTitle { parts.append("page \"\(pageTitle)\"") }
        if let via { parts.append("via \(via)") }
        return parts.joined(separator: "; ")
    }

    /// The text of the first `<name>…</name>` element, markup removed, whitespace collapsed, bounded.
    private static func element(_ name: String, in page: [UInt8]) -> String? {
        func lowered(_ byte: UInt8) -> UInt8 { (65...90).contains(byte) ? byte + 32 : byte }
        func find(_ needle: [UInt8], from start: Int) -> Int? {
            guard needle.count <= page.count else { return nil }
            var index = start
            while index + needle.count <= page.count {
                if zip(page[index..<index + needle.count], needle).allSatisfy({ lowered($0) == $1 }) { return index }
                index += 1
            }
            return nil
        }
        guard let open = find(Array("<\(name)".utf8), from: 0),
            let openEnd = page[open...].firstIndex(of: UInt8(ascii: ">")),
            let close = find(Array("</\(name)>".utf8), from: openEnd)
        else { return nil }
        // Markup inside the element (nginx's <center>) goes; runs of whitespace become one space.
        var text: [UInt8] = []
        var inTag = false
        for byte in page[(openEnd + 1)..<close] {
            if byte == UInt8(ascii: "<") {
                inTag = true
            } else if byte == UInt8(ascii: ">") {
                inTag = false
            } else if !inTag {
                text.append(byte)
            }
        }
        let collapsed = String(decoding: text, as: UTF8.self).split(whereSeparator: \.isWhitespace).joined(
            separator: " "
        )
        return collapsed.isEmpty ? nil : bounded(collapsed)
    }

    /// The C library's text for a system error number squid reported; `nil` for 0 or a number out of range.
    private static func systemError(_ number: Int32) -> String? {
        guard (1...4095).contains(number), let text = strerror(number) else { return nil }
        return bounded(String(cString: text))
    }

    private static func bounded(_ text: String) -> String {
        PrintableBytes.escaped(Array(text.utf8), limit: 120)
    }
}
