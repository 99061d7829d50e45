import CCurl
import Glibc
import TTBasics

/// A TCP connection straight to the server, opened by libcurl, optionally inside TLS.
///
/// libcurl resolves the name on its own thread and connects with Happy Eyeballs (RFC 6555: IPv6 first, IPv4 200 ms
/// later, the first to answer wins), both bounded by the deadline; `CURLOPT_CONNECT_ONLY` stops it there (after the
/// TLS handshake for an `https://` URL). Raw connections then move bytes with `recv`/`send` on libcurl's socket
/// (no extra cost per request); TLS connections with `curl_easy_recv`/`curl_easy_send`.
public final class DirectTransport: Transport {
    public let report: ConnectionReport
    private var easy: CurlEasy?
    private var descriptor: Int32
    private let tls: Bool

    private init(easy: CurlEasy, descriptor: Int32, tls: Bool, report: ConnectionReport) {
        self.easy = easy
        self.descriptor = descriptor
        self.tls = tls
        self.report = report
    }

    deinit { close() }

    /// Connects to `endpoint`, raw or inside TLS.
    ///
    /// - Parameters:
    ///   - endpoint: the server.
    ///   - deadline: bounds name resolution, the TCP connect and the TLS handshake together.
    ///   - tls: run TLS with the server with these settings; `nil` for a raw connection.
    ///   - interrupter: stops the opening from another thread at once (it then fails); `nil`: only `deadline` does.
    /// - Throws: ``TransportError`` at stage ``TransportError/Stage/serverConnect``:
    ///   ``TransportError/Category/serverUnreachable`` (name does not resolve, refused, unreachable) or
    ///   ``TransportError/Category/timedOut``; at stage ``TransportError/Stage/tls`` (with
    ///   ``TransportError/connection``) when the TCP connection stood and the TLS handshake failed or timed out.
    public static func open(
        _ endpoint: Endpoint,
        deadline: Deadline,
        tls: TargetTLSOptions? = nil,
        interrupter: ConnectionInterrupter? = nil
    ) throws -> DirectTransport {
        let easy = try CurlEasy()
        if let interrupter { try CurlInterruption.install(interrupter, on: easy) }
        try easy.setTarget(endpoint, scheme: TargetTLS.scheme(tls))
        try easy.set(CURLOPT_CONNECT_ONLY, 1)
        // Exactly a direct connection, whatever http_proxy/all_proxy say.
        try easy.set(CURLOPT_PROXY, "")
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_TCP_NODELAY, 1)
        if let remaining = deadline.remaining {
            try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, remaining.wholeMilliseconds)))
        }
        try TargetTLS.configure(easy, tls)
        let started = ContinuousClock.now
        let startedAt = CCurl_monotonic_ns()
        let result = curl_easy_perform(easy.handle)
        let elapsed = ContinuousClock.now - started
        guard result == CURLE_OK else {
            var error = connectError(result, easy: easy, endpoint: endpoint, elapsed: elapsed, tls: tls)
            if let connected = easy.tlsStarted(since: startedAt) {
                // The TCP connection stood and the TLS handshake on it failed: the report says so, stage by stage.
                error.stage = .tls
                error.connection = report(
                    easy,
                    endpoint: endpoint,
                    tcpConnectTime: min(connected, elapsed),
                    elapsed: elapsed,
                    tls: tls
                )
            }
            throw error
        }
        let socket = easy.activeSocket
        guard socket >= 0 else {
            throw TransportError(
                stage: .serverConnect,
                category: .internalError,
                message: "libcurl reported a connection to \(endpoint) but no socket"
            )
        }
        // CURLINFO_CONNECT_TIME_T: until the TCP connection was up; the rest is the TLS handshake.
        let tcpTime = Duration.microseconds(easy.long(CURLINFO_CONNECT_TIME_T))
        let connection = report(
            easy,
            endpoint: endpoint,
            tcpConnectTime: tls == nil ? elapsed : min(tcpTime, elapsed),
            elapsed: elapsed,
            tls: tls
        )
        return DirectTransport(easy: easy, descriptor: socket, tls: tls != nil, report: connection)
    }

    /// What the connection showed: the address reached, the TCP connect time and, with TLS, the session's facts
    /// (also of a handshake that failed: a certificate that did not verify, its issuer).
    private static func report(
        _ easy: CurlEasy,
        endpoint: Endpoint,
        tcpConnectTime: Duration,
        elapsed: Duration,
        tls: TargetTLSOptions?
    ) -> ConnectionReport {
        var report = ConnectionReport(
            target: endpoint,
            connectedAddress: easy.string(CURLINFO_PRIMARY_IP).map {
                Endpoint(host: $0, port: easy.long(CURLINFO_PRIMARY_PORT)).description
            },
            tcpConnectTime: tcpConnectTime
        )
        if let tls {
            report.tls = TargetTLS.report(
                easy,
                target: endpoint,
                tls: tls,
                handshakeTime: max(.zero, elapsed - tcpConnectTime)
            )
        }
        return report
    }

    private static func connectError(
        _ result: CURLcode,
        easy: CurlEasy,
        endpoint: Endpoint,
        elapsed: Duration,
        tls: TargetTLSOptions?
    ) -> TransportError {
        let detail = easy.errorText.isEmpty ? CurlEasy.describe(result) : easy.errorText
        func make(_ category: TransportError.Category, _ message: String) -> TransportError {
            TransportError(
                stage: .serverConnect,
                category: category,
                message: message,
                libcurlCode: Int(result.rawValue)
            )
        }
        switch result {
        case CURLE_URL_MALFORMAT:
            return make(.configuration, "'\(endpoint)' is not a host and port libcurl can use: \(detail)")
        case CURLE_COULDNT_RESOLVE_HOST:
            return make(
                .serverUnreachable,
                "cannot resolve the server name \"\(endpoint.host)\" (\(endpoint)): \(detail); check the server name"
            )
        case CURLE_OPERATION_TIMEDOUT:
            let what =
                detail.lowercased().contains("resolv")
                ? "resolving the server name \"\(endpoint.host)\" (\(endpoint)) timed out after "
                    + "\(SocketConnector.format(elapsed)); check the name and the DNS server"
                : easy.tlsStarted(since: 0) != nil
                    ? "the TLS handshake with the server \(endpoint) timed out after \(SocketConnector.format(elapsed)): "
                        + "the TCP connection was made, no TLS answer came; if the server does not speak TLS, try "
                        + "--tls never"
                    : "connecting to the server \(endpoint) timed out after \(SocketConnector.format(elapsed)) "
                        + "(no answer to the TCP connection attempt)"
            return make(.timedOut, what)
        case CURLE_COULDNT_CONNECT:
            let code = Int32(truncatingIfNeeded: easy.long(CURLINFO_OS_ERRNO))
            return make(
                .serverUnreachable,
                SocketConnector.failureMessage(code == 0 ? ECONNREFUSED : code, endpoint, "server")
            )
        default:
            if let tls, TargetTLS.isHandshakeFailure(result) {
                return TargetTLS.handshakeError(
                    result,
                    curlMessage: easy.errorText,
                    target: endpoint,
                    proxy: nil,
                    tls: tls
                )
            }
            return make(.serverUnreachable, "cannot connect to the server \(endpoint): \(detail)")
        }
    }

    public var pollDescriptor: Int32 { descriptor }

    /// A TLS session cannot be half-closed (a close_notify ends it).
    public var supportsHalfClose: Bool { !tls }

    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadOutcome {
        guard descriptor >= 0, let easy else { throw closedError() }
        if tls { return try CurlIO.read(easy, into: buffer, peer: "server \(report.target)") }
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { return .bytes(count) }
            if count == 0 { return buffer.isEmpty ? .wouldBlock : .endOfStream }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: throw ioError(errno, "receiving from")
            }
        }
    }

    public func writeSome(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        guard descriptor >= 0, let easy else { throw closedError() }
        if tls { return try CurlIO.write(easy, bytes, peer: "server \(report.target)") }
        while true {
            let count = send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: throw ioError(errno, "sending to")
            }
        }
    }

    var plainSocket: Int32? { descriptor >= 0 && easy != nil && !tls ? descriptor : nil }

    public func shutdownWrite() throws {
        guard descriptor >= 0 else { throw closedError() }
        guard !tls else { return }
        if shutdown(descriptor, Int32(SHUT_WR)) != 0, errno != ENOTCONN {
            throw ioError(errno, "half-closing the connection to")
        }
    }

    public func close() {
        // curl_easy_cleanup (in CurlEasy's deinit) closes the socket.
        easy = nil
        descriptor = -1
    }

    private func ioError(_ code: Int32, _ activity: String) -> TransportError {
        let category: TransportError.Category =
            [ECONNRESET, EPIPE, ENOTCONN, ECONNABORTED].contains(code) ? .connectionClosed : .internalError
        return TransportError(
            stage: .io,
            category: category,
            message: "\(activity) server \(report.target) failed: \(SystemError.describe(code))"
        )
    }

    private func closedError() -> TransportError {
        TransportError(stage: .io, category: .connectionClosed, message: "the connection to \(report.target) is closed")
    }
}

@available(*, unavailable)
extension DirectTransport: Sendable {}
