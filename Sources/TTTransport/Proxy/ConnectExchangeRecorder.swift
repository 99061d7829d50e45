import CCurl
import Glibc
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
    /// The header lines of the proxy's last answer (status line first), for ``ProxyErrorDetails``.
    private(set) var lastResponseHeaders: [String] = []
    /// The start of the error page after a refused CONNECT, read from the socket as libcurl closes it.
    private(set) var errorBody: [UInt8] = []
    /// Whether TLS records went out (an https:// proxy): the TCP connection was made even when no CONNECT was.
    private(set) var tlsStarted = false
    /// Shows the exchange (`-v`); `nil` when nobody asked.
    let trace: ConnectExchangeTrace?
    /// The proxy password, only to scrub it from trace lines that are not ours.
    private let password: String?
    /// The names (lowercased) of the caller's extra CONNECT headers, whose values the trace hides.
    private let hiddenHeaders: Set<String>
    /// Told of each socket before it is closed, when the exchange can be interrupted (``CurlInterruption``).
    var interrupter: ConnectionInterrupter?

    init(trace: ConnectExchangeTrace? = nil, password: String? = nil, hiddenHeaders: Set<String> = []) {
        self.trace = trace
        self.password = password
        self.hiddenHeaders = hiddenHeaders
    }
    /// Offered and sent authentication schemes and GSSAPI failures, for the scheme fallback.
    private(set) var auth = ProxyAuthObservations()
    /// When the last header line of the proxy's answers arrived: a TLS handshake with the target starts then.
    private(set) var lastAnswerAt: ContinuousClock.Instant?
    /// The last answer's head ended (its blank line arrived): only after that can a failure be the target's
    /// (its TLS handshake); any failure before it is the proxy's, whatever the TLS setting.
    private(set) var answerComplete = false

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
        let line = bytes.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        if bytes.starts(with: Array("HTTP/".utf8)) {
            answerComplete = false
            lastStatusLine = PrintableBytes.escaped(line, limit: 120)
            lastResponseHeaders = []
            errorBody = []
        }
        if line.isEmpty, lastStatusLine != nil { answerComplete = true }
        if lastResponseHeaders.count < 100, lastStatusLine != nil {
            lastResponseHeaders.append(PrintableBytes.escaped(line, limit: 512))
        }
        trace?.responseLine(bytes, password: password)
        auth.recordIncoming(String(decoding: bytes, as: UTF8.self))
    }

    /// The proxy's own words about its answer (squid's error name, `Via`, the page title).
    var errorDetails: ProxyErrorDetails {
        ProxyErrorDetails(headers: lastResponseHeaders, body: errorBody)
    }

    /// Reads what is already waiting on the socket (at most 16 KiB, waiting at most 100 ms for the first
    /// bytes): after a refused CONNECT, libcurl has read the head byte by byte and left the error page there.
    func captureErrorBody(from socket: Int32) {
        let code = lastStatusLine?.split(separator: " ").dropFirst().first
        guard let code, !code.hasPrefix("2"), errorBody.isEmpty else { return }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var wait: Int32 = 100
        while errorBody.count < buffer.count {
            // A blocking socket: read only what poll says is there (the page usually came with the head).
            var entry = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, wait) > 0 else { break }
            wait = 0
            let room = buffer.count - errorBody.count
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, room, 0) }
            guard count > 0 else { break }
            errorBody += buffer[0..<count]
        }
    }

    func recordOutgoing(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("CONNECT ") else { return }
        trace?.requestHead(bytes, password: password, hiddenHeaders: hiddenHeaders)
        if firstRequestSentAt == nil { firstRequestSentAt = ContinuousClock.now }
        var scheme: String?
        for line in text.split(whereSeparator: \.isNewline) where line.lowercased().hasPrefix("proxy-authorization:") {
            let value = line.dropFirst("proxy-authorization:".count).trimmingWhitespace()
            scheme = value.split(separator: " ").first.map(String.init)
        }
        lastAuthSchemeSent = scheme
        auth.recordSent(scheme: scheme)
    }

    /// The C callback for `CURLOPT_DEBUGFUNCTION`; `user` is an unretained recorder.
    static let callback: curl_debug_callback = { _, type, data, size, user in
        guard let user, let data else { return 0 }
        let recorder = Unmanaged<ConnectExchangeRecorder>.fromOpaque(user).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size)
        switch type {
        case CURLINFO_HEADER_IN: recorder.recordIncoming(bytes)
        case CURLINFO_HEADER_OUT: recorder.recordOutgoing(bytes)
        case CURLINFO_TEXT:
            recorder.trace?.libcurlText(bytes, password: recorder.password)
            recorder.auth.recordText(String(decoding: bytes, as: UTF8.self))
        case CURLINFO_SSL_DATA_OUT, CURLINFO_SSL_DATA_IN:
            // The TLS facts of an https:// proxy at -vv belong here too.
            recorder.tlsStarted = true
        default: break
        }
        return 0
    }

    /// The C callback for `CURLOPT_CLOSESOCKETFUNCTION` during the exchange: keeps the error page, then closes.
    static let closeCallback: curl_closesocket_callback = { user, socket in
        if let user {
            let recorder = Unmanaged<ConnectExchangeRecorder>.fromOpaque(user).takeUnretainedValue()
            CurlInterruption.closed(socket, by: recorder.interrupter)
            recorder.captureErrorBody(from: socket)
        }
        return close(socket)
    }
}

@available(*, unavailable)
extension ConnectExchangeRecorder: Sendable {}
