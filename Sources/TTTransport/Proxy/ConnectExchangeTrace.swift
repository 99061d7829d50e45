import TTBasics

/// How much of the CONNECT exchange a trace shows (`tt-connect -v` / `-vv`).
public enum ConnectTraceLevel: Int, Sendable, Hashable, Comparable {
    /// The request and response heads, as `curl -v` shows them (`> CONNECT …`, `< HTTP/1.1 407 …`).
    case heads = 1
    /// The heads plus libcurl's own text trace (`* …`).
    case full = 2

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where the CONNECT exchange is shown, line by line, with every credential redacted.
///
/// Lines come from libcurl's `CURLOPT_DEBUGFUNCTION` on the thread that opens the tunnel. Header lines start with
/// `> ` (sent) or `< ` (received), libcurl's text with `* `, as `curl -v` prints them.
public struct ConnectExchangeTrace: Sendable {
    /// How much to show.
    public var level: ConnectTraceLevel
    /// Receives each line (without a line end); never a credential.
    public var write: @Sendable (String) -> Void

    public init(level: ConnectTraceLevel, write: @escaping @Sendable (String) -> Void) {
        self.level = level
        self.write = write
    }
}

/// Turns the raw debug stream into trace lines with credentials removed.
///
/// Redacted: the value after the scheme word of `Proxy-Authorization` and `Authorization` (Basic, Digest,
/// NTLM and Negotiate alike), the token of an NTLM or Negotiate challenge in `Proxy-Authenticate` /
/// `WWW-Authenticate` (it carries session material), cookies, the values of the caller's extra headers
/// (``HTTPProxyOptions/extraHeaders``: a proxy that wants one often wants a token), and the password itself
/// wherever else it might appear. Nothing says how long a redacted value was.
enum ConnectTraceRedaction {
    static let marker = "<redacted>"

    /// One header line as it may be shown; `hiddenHeaders` are lowercased names whose values are redacted.
    static func header(_ line: Substring, password: String?, hiddenHeaders: Set<String> = []) -> String {
        guard let colon = line.firstIndex(of: ":") else { return scrub(String(line), password: password) }
        let name = line[..<colon]
        let value = line[line.index(after: colon)...].trimmingWhitespace()
        if hiddenHeaders.contains(name.lowercased()) { return "\(name): \(marker)" }
        switch name.lowercased() {
        case "proxy-authorization", "authorization":
            let scheme = value.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            return "\(name): \(scheme.isEmpty ? "" : scheme + " ")\(marker)"
        case "proxy-authenticate", "www-authenticate":
            let parts = value.split(separator: " ", maxSplits: 1)
            if let scheme = parts.first, parts.count == 2, ["ntlm", "negotiate"].contains(scheme.lowercased()) {
                return "\(name): \(scheme) \(marker)"
            }
            return scrub(String(line), password: password)
        case "cookie", "set-cookie":
            return "\(name): \(marker)"
        default:
            return scrub(String(line), password: password)
        }
    }

    /// `text` with the password (when there is one) replaced, as a last line of defence for text that is not ours.
    static func scrub(_ text: String, password: String?) -> String {
        guard let password, !password.isEmpty else { return text }
        return text.replacing(password, with: marker)
    }
}

extension ConnectExchangeTrace {
    /// Shows a request head libcurl sent (one callback holds the whole head); the values of `hiddenHeaders`
    /// (lowercased names) are redacted.
    func requestHead(_ bytes: UnsafeRawBufferPointer, password: String?, hiddenHeaders: Set<String> = []) {
        let text = String(decoding: bytes, as: UTF8.self)
        for line in text.split(whereSeparator: \.isNewline) {
            write("> " + ConnectTraceRedaction.header(line, password: password, hiddenHeaders: hiddenHeaders))
        }
    }

    /// Shows one response header line (libcurl hands them over one at a time); the empty line ending the head
    /// is shown as `<` alone, as curl does.
    func responseLine(_ bytes: UnsafeRawBufferPointer, password: String?) {
        let text = String(decoding: bytes, as: UTF8.self)
        let line = text.trimmingWhitespace()
        write(line.isEmpty ? "<" : "< " + ConnectTraceRedaction.header(line[...], password: password))
    }

    /// Shows libcurl's own text (`-vv` only).
    func libcurlText(_ bytes: UnsafeRawBufferPointer, password: String?) {
        guard level >= .full else { return }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        guard !text.isEmpty else { return }
        write("* " + ConnectTraceRedaction.scrub(String(text), password: password))
    }
}
