import CCurl
import Glibc
import Logging
import TTBasics

/// A tunnel to the server through an HTTP CONNECT proxy, built and driven by libcurl.
///
/// libcurl runs the CONNECT exchange (`CURLOPT_CONNECT_ONLY` + `CURLOPT_HTTPPROXYTUNNEL`) including Basic,
/// Digest, NTLM and Negotiate authentication and TLS to https:// proxies; afterwards bytes move with
/// `curl_easy_send` / `curl_easy_recv`. libcurl reads the proxy's answer without reading past it, so bytes the
/// server sends together with the proxy's `200` are the first bytes ``readSome(into:)`` returns.
public final class HTTPProxyTransport: Transport {
    public internal(set) var report: ConnectionReport
    private var easy: CurlEasy?
    private let socket: Int32
    private let proxyScheme: HTTPProxy.Scheme
    /// Whether the bytes run inside TLS with the target (then nothing can be half-closed).
    private let targetTLS: Bool
    /// Kept alive for libcurl's debug callback, which holds it unretained.
    private let recorder: ConnectExchangeRecorder

    private init(
        easy: CurlEasy,
        socket: Int32,
        proxyScheme: HTTPProxy.Scheme,
        targetTLS: Bool,
        recorder: ConnectExchangeRecorder,
        report: ConnectionReport
    ) {
        self.easy = easy
        self.socket = socket
        self.proxyScheme = proxyScheme
        self.targetTLS = targetTLS
        self.recorder = recorder
        self.report = report
    }

    deinit { close() }

    /// Opens a tunnel to `target` through `proxy`.
    ///
    /// libcurl's own proxy environment handling is switched off: exactly `proxy` is used, whatever
    /// `http_proxy`/`no_proxy` say (``ProxyConfiguration`` has already applied them).
    /// - Parameters:
    ///   - target: the framework server; an IPv6 address goes in brackets in the CONNECT line.
    ///   - proxy: the proxy, its credentials and authentication scheme.
    ///   - options: headers, TLS settings for https:// proxies, logging.
    ///   - deadline: bounds the TCP connect, the TLS handshake and the whole CONNECT exchange.
    ///   - tls: run TLS with the target inside the tunnel (libcurl does it after the `200`); `nil` for raw bytes.
    ///   - interrupter: stops the opening from another thread at once (it then fails); `nil`: only `deadline` does.
    /// - Throws: ``TransportError`` at stage ``TransportError/Stage/proxyConnect`` or
    ///   ``TransportError/Stage/proxyTunnel``; at ``TransportError/Stage/tls`` (with ``TransportError/connection``)
    ///   when the tunnel stood and the TLS handshake with the target failed or timed out.
    public static func open(
        target: Endpoint,
        proxy: HTTPProxy,
        options: HTTPProxyOptions = HTTPProxyOptions(),
        deadline: Deadline,
        tls: TargetTLSOptions? = nil,
        interrupter: ConnectionInterrupter? = nil
    ) throws -> HTTPProxyTransport {
        try checkRequestInputs(proxy: proxy, options: options)
        // Which schemes to try, in which order, and what each one's failure means: ProxyAuthFallback.swift.
        return try ProxyAuthFallback.open(
            target: target,
            proxy: proxy,
            options: options,
            deadline: deadline,
            tls: tls,
            interrupter: interrupter
        )
    }

    /// Refuses a proxy endpoint that is no host and port (``Endpoint/validate()``, as for every target: the
    /// proxy URL libcurl reads is built from it, so `127.0.0.1#.corp.example` would be 127.0.0.1), and what would
    /// put a line break into the CONNECT request: libcurl writes the User-Agent and the extra header lines as they
    /// are, and Digest quotes the user name in `Proxy-Authorization` without escaping CR or LF, so a control
    /// character there ends the header and starts one of the caller's (or the URL's) choosing. NUL would cut the
    /// value short, silently. The header values are not shown: they may hold a token.
    static func checkRequestInputs(proxy: HTTPProxy, options: HTTPProxyOptions) throws(TransportError) {
        do {
            try proxy.endpoint.validate()
        } catch {
            throw .configuration("proxy \(error.message)")
        }
        func hasControl(_ text: String) -> Bool {
            text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        }
        if let user = proxy.credentials?.user, hasControl(user) {
            throw .configuration(
                "the proxy user name \"\(PrintableBytes.escaped(Array(user.utf8), limit: 100))\" contains a control "
                    + "character (CR, LF, NUL…), which cannot go into a CONNECT request"
            )
        }
        if hasControl(options.userAgent) {
            throw .configuration("the User-Agent for the proxy contains a control character (CR, LF, NUL…)")
        }
        if let index = options.extraHeaders.firstIndex(where: hasControl) {
            throw .configuration(
                "extra proxy header line \(index + 1) contains a control character (CR, LF, NUL…): each must be "
                    + "'Name: value' on one line"
            )
        }
    }

    /// One CONNECT exchange on a fresh libcurl handle (so a fresh connection), offering libcurl the
    /// authentication schemes in `authMask`; `recorder` keeps what the exchange showed, also when it throws.
    static func attempt(
        target: Endpoint,
        proxy: HTTPProxy,
        options: HTTPProxyOptions,
        deadline: Deadline,
        authMask: UInt,
        recorder: ConnectExchangeRecorder,
        tls: TargetTLSOptions?,
        interrupter: ConnectionInterrupter?
    ) throws -> HTTPProxyTransport {
        let easy = try CurlEasy()
        try configure(easy, target: target, proxy: proxy, options: options, deadline: deadline, authMask: authMask)
        try easy.setTarget(target, scheme: TargetTLS.scheme(tls))
        try TargetTLS.configure(easy, tls)
        // libcurl calls the recorder until the handle is cleaned up (the close-socket callback too): the handle
        // keeps it alive, whichever of the two Swift releases first.
        easy.keepAlive(recorder)
        if let interrupter {
            try CurlInterruption.install(interrupter, on: easy)
            recorder.interrupter = interrupter
        }
        let recorderPointer = Unmanaged.passUnretained(recorder).toOpaque()
        try easy.setDebugFunction(ConnectExchangeRecorder.callback, data: recorderPointer)
        try easy.setCloseSocketFunction(ConnectExchangeRecorder.closeCallback, data: recorderPointer)
        try easy.set(CURLOPT_VERBOSE, 1)

        options.logger.debug(
            "opening proxy tunnel",
            metadata: [
                "proxy": "\(proxy.url)", "target": "\(target)",
                "proxy-auth": "\(ProxyAuthSchemes.names(mask: authMask).joined(separator: ","))",
            ]
        )
        let started = ContinuousClock.now
        let budget = deadline.remaining
        let result = curl_easy_perform(easy.handle)
        let elapsed = ContinuousClock.now - started
        // Nothing after the exchange is worth a debug event; stop calling into the recorder.
        try? easy.set(CURLOPT_VERBOSE, 0)

        // libcurl's CURLINFO_CONNECT_TIME_T only counts once the tunnel is up; the moment our first CONNECT
        // went out marks the end of the TCP (and TLS) connect.
        let tcpConnectTime = recorder.firstRequestSentAt.map { $0 - started } ?? elapsed
        let status = easy.long(CURLINFO_HTTP_CONNECTCODE)
        let offered = ProxyAuthSchemes.names(mask: UInt(bitPattern: easy.long(CURLINFO_PROXYAUTH_AVAIL)))
        let address = easy.string(CURLINFO_PRIMARY_IP).map {
            Endpoint(host: $0, port: easy.long(CURLINFO_PRIMARY_PORT)).description
        }
        let outcome = ProxyExchangeOutcome(
            result: result,
            status: status,
            offeredSchemes: offered,
            tcpConnected: recorder.firstRequestSentAt != nil || status != 0 || recorder.incomingCount > 0,
            osErrno: Int32(truncatingIfNeeded: easy.long(CURLINFO_OS_ERRNO)),
            curlMessage: easy.errorText,
            elapsed: elapsed,
            recorder: recorder,
            budget: budget
        )
        // A failure is the target's TLS handshake only once the proxy's whole answer arrived: libcurl's errors
        // before that (oversized or broken heads) are the proxy's, as without TLS.
        if let tls, result != CURLE_OK, (200..<300).contains(status), recorder.answerComplete,
            recorder.incomingCount <= ConnectExchangeRecorder.headerLimit,
            TargetTLS.isHandshakeFailure(result) || result == CURLE_OPERATION_TIMEDOUT
        {
            // The tunnel stood: the report says so, stage by stage, and holds the certificate that was refused.
            var tunnel = ConnectionReport(
                target: target,
                proxy: proxy.endpoint,
                connectedAddress: address,
                tcpConnectTime: tcpConnectTime,
                proxyStatus: status,
                offeredAuthSchemes: offered,
                authSchemeUsed: recorder.lastAuthSchemeSent
            )
            let answered = recorder.lastAnswerAt.map { $0 - started } ?? elapsed
            tunnel.tunnelTime = max(.zero, answered - tcpConnectTime)
            tunnel.authenticatedAs = ProxyAuthIdentity.name(
                scheme: recorder.lastAuthSchemeSent,
                credentials: proxy.credentials
            )
            tunnel.tls = TargetTLS.report(easy, target: target, tls: tls, handshakeTime: max(.zero, elapsed - answered))
            var error =
                result == CURLE_OPERATION_TIMEDOUT
                ? TransportError(
                    stage: .tls,
                    category: .timedOut,
                    message: "the TLS handshake with \(target) through the proxy \(proxy.endpoint) timed out after "
                        + "\(SocketConnector.format(max(.zero, elapsed - answered))): the proxy opened the tunnel "
                        + "(HTTP \(status)), no TLS answer came through it; if the server does not speak TLS, try "
                        + "--tls never",
                    proxyStatus: status,
                    libcurlCode: Int(result.rawValue)
                )
                : TargetTLS.handshakeError(
                    result,
                    curlMessage: easy.errorText,
                    target: target,
                    proxy: proxy,
                    tls: tls,
                    session: tunnel.tls
                )
            error.proxyConnectTime = tcpConnectTime
            error.connection = tunnel
            throw error
        }
        guard result == CURLE_OK, (200..<300).contains(status),
            recorder.incomingCount <= ConnectExchangeRecorder.headerLimit
        else {
            var error = outcome.error(target: target, proxy: proxy)
            if error.stage == .proxyTunnel { error.proxyConnectTime = tcpConnectTime }
            options.logger.debug(
                "proxy tunnel failed",
                metadata: [
                    "proxy": "\(proxy.url)", "libcurl-code": "\(result.rawValue)", "status": "\(status)",
                    "category": "\(error.category)",
                ]
            )
            throw error
        }
        let socket = easy.activeSocket
        guard socket >= 0 else {
            throw TransportError(
                stage: .proxyTunnel,
                category: .internalError,
                message: "libcurl reported a tunnel through \(proxy.url) but no socket",
                proxyStatus: status
            )
        }
        var report = ConnectionReport(
            target: target,
            proxy: proxy.endpoint,
            connectedAddress: address,
            tcpConnectTime: tcpConnectTime,
            tunnelTime: max(.zero, elapsed - tcpConnectTime),
            proxyStatus: status,
            offeredAuthSchemes: offered,
            authSchemeUsed: recorder.lastAuthSchemeSent
        )
        report.authenticatedAs = ProxyAuthIdentity.name(
            scheme: recorder.lastAuthSchemeSent,
            credentials: proxy.credentials
        )
        if let tls {
            // The TLS handshake ran after the proxy's last answer.
            let answered = recorder.lastAnswerAt.map { $0 - started } ?? elapsed
            let handshake = max(.zero, elapsed - answered)
            report.tunnelTime = max(.zero, answered - tcpConnectTime)
            report.tls = TargetTLS.report(easy, target: target, tls: tls, handshakeTime: handshake)
        }
        options.logger.debug(
            "proxy tunnel established",
            metadata: [
                "proxy": "\(proxy.url)", "proxy-address": "\(address ?? "?")", "status": "\(status)",
                "auth-scheme": "\(recorder.lastAuthSchemeSent ?? "none")",
            ]
        )
        return HTTPProxyTransport(
            easy: easy,
            socket: socket,
            proxyScheme: proxy.scheme,
            targetTLS: tls != nil,
            recorder: recorder,
            report: report
        )
    }

    private static func configure(
        _ easy: CurlEasy,
        target: Endpoint,
        proxy: HTTPProxy,
        options: HTTPProxyOptions,
        deadline: Deadline,
        authMask: UInt
    ) throws {
        try easy.set(CURLOPT_CONNECT_ONLY, 1)
        try easy.set(CURLOPT_PROXY, proxy.url)
        try easy.set(CURLOPT_PROXYPORT, proxy.endpoint.port)
        try easy.set(
            CURLOPT_PROXYTYPE,
            Int(proxy.scheme == .https ? CURLPROXY_HTTPS.rawValue : CURLPROXY_HTTP.rawValue)
        )
        // Our resolved proxy is the only one; libcurl must not consult no_proxy on its own.
        try easy.set(CURLOPT_NOPROXY, "")
        try easy.set(CURLOPT_HTTPPROXYTUNNEL, 1)
        try easy.set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_TCP_NODELAY, 1)
        try easy.set(CURLOPT_PROXYAUTH, Int(bitPattern: authMask))
        if let credentials = proxy.credentials, !credentials.user.isEmpty {
            try easy.set(CURLOPT_PROXYUSERNAME, credentials.user)
            try easy.set(CURLOPT_PROXYPASSWORD, credentials.password)
        } else if authMask & CCurl_AUTH_NEGOTIATE != 0 {
            // Negotiate without a password uses the Kerberos ticket cache; libcurl only tries when a
            // (blank) user is set.
            try easy.set(CURLOPT_PROXYUSERPWD, ":")
        }
        try easy.set(CURLOPT_PROXYHEADER, lines: ["User-Agent: \(options.userAgent)"] + options.extraHeaders)
        try easy.set(CURLOPT_HEADEROPT, Int(CURLHEADER_SEPARATE))
        if let remaining = deadline.remaining {
            let milliseconds = remaining.wholeMilliseconds
            // 0 would mean "libcurl's default"; a passed deadline still gets the shortest real timeout.
            try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, milliseconds)))
        }
        if proxy.scheme == .https {
            if let caFile = options.proxyCAFile { try easy.set(CURLOPT_PROXY_CAINFO, caFile) }
            if options.proxyInsecure {
                try easy.set(CURLOPT_PROXY_SSL_VERIFYPEER, 0)
                try easy.set(CURLOPT_PROXY_SSL_VERIFYHOST, 0)
            }
        }
    }

    /// The tunnel's socket, or -1 once closed (the number may already belong to another descriptor then).
    public var pollDescriptor: Int32 { easy == nil ? -1 : socket }

    public var supportsHalfClose: Bool { proxyScheme == .http && !targetTLS }

    /// The tunnel's socket when neither the proxy nor the target speaks TLS: libcurl buffers nothing it sends
    /// once the tunnel stands, so a write on the socket itself is the same as one through `curl_easy_send`.
    var plainSocket: Int32? { easy != nil && supportsHalfClose ? socket : nil }

    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadOutcome {
        guard let easy else { throw closedError() }
        return try CurlIO.read(easy, into: buffer, peer: peerName)
    }

    public func writeSome(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        guard let easy else { throw closedError() }
        return try CurlIO.write(easy, bytes, peer: peerName)
    }

    /// Half-closes the TCP connection to the proxy. Whether the proxy passes that on is its choice: squid 5 and
    /// tinyproxy 1.11 end the whole tunnel instead (docs/TRANSPORT.md). Through an https:// proxy this does nothing: the TLS
    /// layer cannot be half-closed (``supportsHalfClose`` is `false`).
    public func shutdownWrite() throws {
        guard easy != nil else { throw closedError() }
        guard supportsHalfClose else { return }
        if shutdown(socket, Int32(SHUT_WR)) != 0, errno != ENOTCONN {
            throw TransportError(
                stage: .io,
                category: .internalError,
                message: "half-closing the tunnel to \(peerName) failed: \(SystemError.describe(errno))"
            )
        }
    }

    public func close() {
        // curl_easy_cleanup (in CurlEasy's deinit) closes the socket.
        easy = nil
    }

    private func closedError() -> TransportError {
        TransportError(stage: .io, category: .connectionClosed, message: "the tunnel to \(peerName) is closed")
    }
}

@available(*, unavailable)
extension HTTPProxyTransport: Sendable {}

/// libcurl's `CURLAUTH_*` bits and the scheme names users see.
enum ProxyAuthSchemes {
    static func mask(for scheme: ProxyAuthScheme) -> UInt {
        switch scheme {
        case .any: CCurl_AUTH_ANY
        case .basic: CCurl_AUTH_BASIC
        case .digest: CCurl_AUTH_DIGEST
        case .ntlm: CCurl_AUTH_NTLM
        case .negotiate: CCurl_AUTH_NEGOTIATE
        }
    }

    /// The names of the schemes in a `CURLINFO_PROXYAUTH_AVAIL` mask, strongest last as browsers list them.
    static func names(mask: UInt) -> [String] {
        var names: [String] = []
        if mask & CCurl_AUTH_BASIC != 0 { names.append("Basic") }
        if mask & CCurl_AUTH_DIGEST != 0 { names.append("Digest") }
        if mask & CCurl_AUTH_NTLM != 0 { names.append("NTLM") }
        if mask & CCurl_AUTH_NEGOTIATE != 0 { names.append("Negotiate") }
        return names
    }
}
