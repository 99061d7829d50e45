import CCurl
import TTBasics

/// Watches libcurl's debug stream during the CONNECT exchange to learn what `getinfo` cannot tell: the
/// proxy's status line (with its reason phrase), the raw start of a non-HTTP answer, and the authentication
/// scheme our requests carried.
///
/// Only the scheme word of a `Proxy-Authorization` header is kept, never its credentials.
final class ConnectExchangeRecorder {
    /// The first bytes the proxy sent, for describing an answer that is not HTTP.
    private(set) var incomingPrefix: [UInt8] = []
    private(set) var incomingCount = 0
    /// The status line of the proxy's last answer, e.g. `HTTP/1.1 403 Forbidden`.
    private(set) var lastStatusLine: String?
    /// The scheme of the `Proxy-Authorization` header of our last CONNECT, e.g. `Basic`.
    private(set) var lastAuthSchemeSent: String?
    /// When the first CONNECT request went out: the TCP connection (and TLS to an https:// proxy) was up.
    private(set) var firstRequestSentAt: ContinuousClock.Instant?
    /// When the last header line of the proxy's answers arrived: a TLS handshake with the target starts then.
    private(set) var lastAnswerAt: ContinuousClock.Instant?

    private static let prefixLimit = 256
    /// The most CONNECT answer header bytes we accept (libcurl limits only single lines, to 16 KiB); more is a
    /// misbehaving proxy.
    static let headerLimit = 64 * 1024

    func recordIncoming(_ bytes: UnsafeRawBufferPointer) {
        incomingCount += bytes.count
        lastAnswerAt = ContinuousClock.now
        if incomingPrefix.count < Self.prefixLimit {
            incomingPrefix += bytes.prefix(Self.prefixLimit - incomingPrefix.count)
        }
        if bytes.starts(with: Array("HTTP/".utf8)) {
            let line = bytes.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
            lastStatusLine = PrintableBytes.escaped(line, limit: 120)
        }
    }

    func recordOutgoing(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("CONNECT ") else { return }
        if firstRequestSentAt == nil { firstRequestSentAt = ContinuousClock.now }
        var scheme: String?
        for line in text.split(whereSeparator: \.isNewline) where line.lowercased().hasPrefix("proxy-authorization:") {
            let value = line.dropFirst("proxy-authorization:".count).trimmingWhitespace()
            scheme = value.split(separator: " ").first.map(String.init)
        }
        lastAuthSchemeSent = scheme
    }

    /// The C callback for `CURLOPT_DEBUGFUNCTION`; `user` is an unretained recorder.
    static let callback: curl_debug_callback = { _, type, data, size, user in
        guard let user, let data else { return 0 }
        let recorder = Unmanaged<ConnectExchangeRecorder>.fromOpaque(user).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size)
        switch type {
        case CURLINFO_HEADER_IN: recorder.recordIncoming(bytes)
        case CURLINFO_HEADER_OUT: recorder.recordOutgoing(bytes)
        default: break
        }
        return 0
    }
}

@available(*, unavailable)
extension ConnectExchangeRecorder: Sendable {}
