#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A host and a TCP port as users write them: `host`, `host:port`, `[v6]` or `[v6]:port`.
///
/// IPv6 addresses are stored without brackets and printed with them (`[::1]:5000`), so the printed form always
/// parses back and can go into a URL, a CONNECT line or a `Host` header as it is.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// A host name, an IPv4 address, or an IPv6 address without brackets.
    public var host: String
    /// The TCP port.
    public var port: Int

    /// A host and port from their parts; `host` may be given with or without brackets.
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
    /// An IPv6 address must be in brackets: `::1:443` could mean two different things. Brackets hold only IPv6
    /// addresses. The port is 1–65535 written in ASCII digits, or 0–65535 with `allowsPortZero` (a listener that
    /// asks the kernel for a free port).
    ///
    /// - Parameters:
    ///   - text: the address as a user or a peer wrote it.
    ///   - defaultPort: the port when `text` has none; `nil` makes the port mandatory.
    ///   - allowsPortZero: whether port 0 is accepted.
    /// - Throws: ``HostPortError`` naming the text and what is wrong with it.
    public init(
        parsing text: some StringProtocol,
        defaultPort: Int? = nil,
        allowsPortZero: Bool = false
    )
        throws(HostPortError)
    {
        let text = Substring(text)
        func failure(_ problem: HostPortError.Problem) -> HostPortError {
            HostPortError(text: String(text), problem: problem)
        }
        let host: Substring
        let portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw failure(.unclosedBracket) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                portText = nil
            } else if rest.hasPrefix(":") {
                portText = rest.dropFirst()
            } else {
                throw failure(.textAfterBracket)
            }
            guard host.isEmpty || host.contains(":") else { throw failure(.bracketedNonIPv6) }
        } else if let colon = text.firstIndex(of: ":") {
            guard text[text.index(after: colon)...].firstIndex(of: ":") == nil else { throw failure(.unbracketedIPv6) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            host = text
            portText = nil
        }
        if let problem = Self.hostProblem(host) { throw failure(problem) }
        let lowest = allowsPortZero ? 0 : 1
        guard let portText else {
            guard let defaultPort else { throw failure(.missingPort) }
            self.init(host: String(host), port: defaultPort)
            return
        }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ ("0"..."9").contains($0) }),
            let port = Int(portText), (lowest...65535).contains(port)
        else {
            throw failure(.invalidPort(String(portText), lowest: lowest))
        }
        self.init(host: String(host), port: port)
    }

    /// Whether the host is an IPv6 address literal.
    public var isIPv6: Bool { host.contains(":") }

    /// What is wrong with `host` as a host, or `nil` when it is one: the one host check of the project, for
    /// every way a host comes in (`-S`, `HOST:PORT`, config files, library callers through `Endpoint`).
    ///
    /// A host is a DNS name (letters, digits, `-` and `_` in dot-separated labels of 1–63 characters, 253 in all,
    /// one trailing dot allowed), an IPv4 address as a dotted quad, or an IPv6 address without brackets (with an
    /// optional `%zone`). Anything else, `/`, `#`, `?`, `@`, a space, a backslash, non-ASCII letters included,
    /// would make a URL or a resolver read another host or port than the one shown; so would the numeric forms
    /// `inet_aton` accepts besides the dotted quad (`2130706433`, `127.1`, `0x7f.1`).
    public static func hostProblem(_ host: some StringProtocol) -> HostPortError.Problem? {
        guard !host.isEmpty else { return .emptyHost }
        let text = String(host)
        if text.contains(":") {
            let zoneStart = text.firstIndex(of: "%")
            let address = text[..<(zoneStart ?? text.endIndex)]
            if let bad = address.first(where: { !$0.isHexDigit && $0 != ":" && $0 != "." }) {
                return .invalidHostCharacter(bad)
            }
            if let zoneStart {
                let zone = text[text.index(after: zoneStart)...]
                if let bad = zone.first(where: { !(($0.isASCII && ($0.isLetter || $0.isNumber)) || "._-".contains($0)) }
                ) {
                    return .invalidHostCharacter(bad)
                }
                guard !zone.isEmpty else { return .invalidHostName("the IPv6 zone after '%' is empty") }
            }
            var bytes = in6_addr()
            guard inet_pton(AF_INET6, String(address), &bytes) == 1 else {
                return .invalidHostName("'\(address)' is not an IPv6 address")
            }
            return nil
        }
        if let bad = text.first(where: { !(($0.isASCII && ($0.isLetter || $0.isNumber)) || "-._".contains($0)) }) {
            return .invalidHostCharacter(bad)
        }
        var quad = in_addr()
        if inet_pton(AF_INET, text, &quad) != 1, inet_aton(text, &quad) != 0 {
            return .invalidHostName("a numeric address must be written as four decimal numbers, like 127.0.0.1")
        }
        let name = text.hasSuffix(".") ? text.dropLast() : text[...]
        guard name.count <= 253 else { return .invalidHostName("a host name has at most 253 characters") }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return .invalidHostName("it has an empty label ('..', or a leading dot)") }
            guard label.count <= 63 else { return .invalidHostName("a label has at most 63 characters") }
            guard label.first != "-", label.last != "-" else {
                return .invalidHostName("a label cannot start or end with '-'")
            }
        }
        return nil
    }

    /// The host as it appears in a URL, a CONNECT line or a `Host` header: IPv6 in brackets.
    public var bracketedHost: String { isIPv6 ? "[\(host)]" : host }

    /// `host:port`, with IPv6 in brackets.
    public var description: String { "\(bracketedHost):\(port)" }
}

/// Text that is not a valid ``HostPort``.
public struct HostPortError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with the text.
    public enum Problem: Hashable, Sendable {
        /// `[` without a closing `]`.
        case unclosedBracket
        /// Something other than `:PORT` after `]`.
        case textAfterBracket
        /// Brackets around something that is not an IPv6 address.
        case bracketedNonIPv6
        /// An IPv6 address with a port, not in brackets: ambiguous.
        case unbracketedIPv6
        /// No host before the port.
        case emptyHost
        /// A host with a character no host name or address has (URL punctuation, whitespace, non-ASCII).
        case invalidHostCharacter(Character)
        /// A host made of valid characters that is still no host name or address; the text says why.
        case invalidHostName(String)
        /// No port, and no default one.
        case missingPort
        /// A port that is not a number from `lowest` to 65535.
        case invalidPort(String, lowest: Int)
    }

    /// The text as given.
    public var text: String
    /// What is wrong with it.
    public var problem: Problem

    public init(text: String, problem: Problem) {
        self.text = text
        self.problem = problem
    }

    /// What is wrong and how to write it instead, without the text itself.
    public var reason: String {
        switch problem {
        case .unclosedBracket: "missing ']' after the IPv6 address"
        case .textAfterBracket: "expected ':PORT' after ']'"
        case .bracketedNonIPv6: "only IPv6 addresses go in brackets"
        case .unbracketedIPv6: "this looks like an IPv6 address: put it in brackets, e.g. [::1]:5000"
        case .emptyHost: "the host is empty"
        case .invalidHostCharacter(let character):
            "the host contains \(Self.describe(character)), which no host name or address has "
                + "(a host is a DNS name, an IPv4 address, or an IPv6 address in brackets)"
        case .invalidHostName(let why): "the host is not a valid host name or address: \(why)"
        case .missingPort: "it has no port; write HOST:PORT"
        case .invalidPort(let port, let lowest): "invalid port '\(port)': write a number from \(lowest) to 65535"
        }
    }

    public var description: String { "'\(text)': \(reason)" }

    /// A character as a message can show it: quoted when printable ASCII, by name or code point otherwise.
    static func describe(_ character: Character) -> String {
        switch character {
        case " ": return "a space"
        case "\t": return "a tab"
        default:
            if let ascii = character.asciiValue, (0x21..<0x7F).contains(ascii) { return "'\(character)'" }
            return character.unicodeScalars.map { scalar in
                let hex = String(scalar.value, radix: 16, uppercase: true)
                return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            }.joined(separator: " ")
        }
    }
}
