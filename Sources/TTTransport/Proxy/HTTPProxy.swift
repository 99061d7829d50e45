import TTBasics

/// One HTTP CONNECT proxy: where it is, how to speak to it, and how to authenticate.
///
/// A missing port is ``defaultPort`` (3128), never libcurl's 1080, and every message names the port used.
public struct HTTPProxy: Sendable, Hashable, CustomStringConvertible {
    /// How to talk to the proxy itself.
    public enum Scheme: String, Sendable, Hashable {
        /// Plain TCP to the proxy.
        case http
        /// TLS to the proxy (the tunnel inside is still our own protocol).
        case https
    }

    /// The proxy port when none is given (squid's port).
    public static let defaultPort = 3128

    public var scheme: Scheme
    public var endpoint: Endpoint
    public var credentials: ProxyCredentials?
    public var authScheme: ProxyAuthScheme
    /// Never send the password as Basic to a plain `http://` proxy (`proxy-auth-no-basic = yes`): Basic is
    /// the password itself, readable by anyone on the link. With ``authScheme`` `any`, the stronger schemes the
    /// proxy offers are still tried; when none passes the connection fails rather than fall back to Basic.
    /// Inside an `https://` proxy's TLS the password is not on the link in the clear, so this changes nothing
    /// there.
    public var forbidsBasicInClear: Bool

    public init(
        scheme: Scheme = .http,
        endpoint: Endpoint,
        credentials: ProxyCredentials? = nil,
        authScheme: ProxyAuthScheme = .any,
        forbidsBasicInClear: Bool = false
    ) {
        self.scheme = scheme
        self.endpoint = endpoint
        self.credentials = credentials
        self.authScheme = authScheme
        self.forbidsBasicInClear = forbidsBasicInClear
    }

    /// Whether Basic would put the password on the link in the clear: a plain `http://` proxy.
    var sendsBasicInClear: Bool { scheme == .http }

    /// Parses `[http[s]://][USER:PASS@]HOST[:PORT][/]`, percent-decoding the user and password.
    ///
    /// - Throws: ``TransportError`` of category ``TransportError/Category/configuration`` for other schemes
    ///   (`socks5://` …), a bad host or port, or bad percent-encoding. The message never shows the password.
    public init(parsing text: String) throws(TransportError) {
        var rest = text.trimmingWhitespace()
        let shown = Self.redacted(String(rest))
        if let separator = Self.schemeSeparator(in: rest) {
            let name = rest[..<separator.lowerBound].lowercased()
            guard let scheme = Scheme(rawValue: name) else {
                throw TransportError.configuration(
                    "unsupported proxy scheme \"\(name)://\" in \"\(shown)\": only http:// and https:// (CONNECT) "
                        + "proxies are supported"
                )
            }
            self.scheme = scheme
            rest = rest[separator.upperBound...]
        } else {
            self.scheme = .http
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("?"), !rest.contains("#") else {
            throw TransportError.configuration("proxy URL \"\(shown)\" must not have a path; write HOST:PORT")
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            let raw = ProxyCredentials(parsing: String(userInfo))
            guard let user = PercentDecoding.decode(raw.user), let password = PercentDecoding.decode(raw.password)
            else {
                throw TransportError.configuration(
                    "proxy URL \"\(shown)\" has invalid percent-encoding in its user name or password"
                )
            }
            guard !user.isEmpty else {
                throw TransportError.configuration("proxy URL \"\(shown)\" has an empty user name before \"@\"")
            }
            self.credentials = ProxyCredentials(user: user, password: password)
            rest = rest[rest.index(after: at)...]
        } else {
            self.credentials = nil
        }
        do {
            self.endpoint = try Endpoint(parsing: String(rest), defaultPort: Self.defaultPort)
        } catch {
            throw TransportError.configuration("invalid proxy \"\(shown)\": \(error.message)")
        }
        self.authScheme = .any
        self.forbidsBasicInClear = false
    }

    /// The proxy URL without credentials, always with its port: `http://proxy.example:3128`.
    public var url: String { "\(scheme.rawValue)://\(endpoint)" }

    public var description: String { url }

    /// `text` with the password between the user's `:` and the last `@` replaced, so a password never shows.
    static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let start = schemeSeparator(in: text).map(\.upperBound).flatMap { $0 <= at ? $0 : nil } ?? text.startIndex
        let userInfo = text[start..<at]
        let user = userInfo.firstIndex(of: ":").map { userInfo[..<$0] } ?? userInfo
        return String(text[..<start]) + user + ":<redacted>" + String(text[at...])
    }
}

extension HTTPProxy {
    /// The `://` after a leading scheme name (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`), or `nil`.
    /// A `://` anywhere else (in a password, after a path) starts no scheme, so text before it is never shown as
    /// one.
    fileprivate static func schemeSeparator<S: StringProtocol>(in text: S) -> Range<S.Index>? {
        guard let separator = text.firstRange(of: "://") else { return nil }
        let name = text[..<separator.lowerBound]
        guard let first = name.first, first.isASCII, first.isLetter,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        return separator
    }
}

/// RFC 3986 percent-decoding of URL user information.
enum PercentDecoding {
    static func decode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
