import CCurl
import Glibc
import TTBasics

/// What libcurl reported after a failed CONNECT exchange, turned into a ``TransportError`` that says which
/// stage failed and what the user can do.
///
/// The proxy's HTTP status decides first (it is the most specific fact); libcurl's result code decides when
/// there is no status. Observed with libcurl 7.88 (see Tests/TTTransportTests/ProxyFailureTests.swift).
struct ProxyExchangeOutcome {
    var result: CURLcode
    var status: Int
    var offeredSchemes: [String]
    var tcpConnected: Bool
    var osErrno: Int32
    var curlMessage: String
    var elapsed: Duration
    var recorder: ConnectExchangeRecorder
    /// The time the deadline allowed when the exchange began (`nil`: no deadline), so a timeout can say
    /// whether the proxy was slow or the deadline too short to be met.
    var budget: Duration? = nil

    func error(target: Endpoint, proxy: HTTPProxy) -> TransportError {
        let code = Int(result.rawValue)
        let where_ = "proxy \(proxy.url)"
        let details = recorder.errorDetails
        let statusLine = recorder.lastStatusLine.map { "\"\($0)\"" } ?? "status \(status)"
        // The proxy's own words first: they name the cause where the status code is generic (squid's 500).
        let reply = details.summary.isEmpty ? statusLine : "\(details.summary); \(statusLine)"

        func make(
            _ stage: TransportError.Stage,
            _ category: TransportError.Category,
            _ message: String
        )
            -> TransportError
        {
            TransportError(
                stage: stage,
                category: category,
                message: Redaction.scrub(message, proxy.credentials),
                proxyStatus: status == 0 ? nil : status,
                offeredAuthSchemes: offeredSchemes,
                libcurlCode: code
            )
        }

        if result == CURLE_OPERATION_TIMEDOUT {
            // What the deadline left when the exchange began: a deadline too short to be met is the caller's,
            // not the proxy's, fault.
            let allowed =
                budget.map { left in
                    left < .milliseconds(10)
                        ? " (the deadline left only \(left.readable) for it: far too short for any proxy to answer)"
                        : " (the deadline left \(left.readable))"
                } ?? ""
            if !tcpConnected, proxy.scheme == .https, recorder.tlsStarted {
                return make(
                    .proxyConnect,
                    .timedOut,
                    "the TLS handshake with \(where_) timed out after \(SocketConnector.format(elapsed))\(allowed): "
                        + "the TCP connection was made but no TLS answer came; is it an https:// proxy, and does it "
                        + "speak TLS on this port?"
                )
            }
            if !tcpConnected {
                return make(
                    .proxyConnect,
                    .timedOut,
                    "connecting to \(where_) timed out after \(SocketConnector.format(elapsed))\(allowed) (no answer "
                        + "to the TCP connection attempt)"
                )
            }
            return make(
                .proxyTunnel,
                .timedOut,
                "\(where_) did not answer the CONNECT request for \(target) before the deadline passed, after "
                    + "\(SocketConnector.format(elapsed))\(allowed)"
            )
        }

        // CURLE_OK here means libcurl accepted the answer but it broke our own header limit.
        if result == CURLE_OK || curlMessage.lowercased().contains("too large") {
            return make(.proxyTunnel, .proxyProtocolViolation, tooLargeMessage(where_))
        }

        if (500...599).contains(status), details.saysTargetUnreachable(reason: reasonPhrase) {
            let (verb, why) =
                switch details.squidError {
                case "ERR_DNS_FAIL": ("could not resolve", "the proxy's name servers may not know it")
                case "ERR_CONNECT_FAIL":
                    (
                        "could not connect to",
                        "nothing may be listening on port \(target.port) there, or a firewall between the proxy and "
                            + "the server drops the connection"
                    )
                default: ("could not resolve/reach", "the proxy's name servers or routes may not know it")
                }
            return make(
                .proxyTunnel,
                .proxyGatewayFailure,
                "\(where_) \(verb) \(target.host) (\(reply)): check the server name and port \(target.port); \(why)"
            )
        }

        switch status {
        case 407, 401:
            // tinyproxy 1.11 answers a failed proxy login with 401 instead of 407.
            return make(.proxyTunnel, .proxyAuthenticationRequired, authenticationMessage(where_, target, proxy, reply))
        case 502, 503, 504:
            return make(
                .proxyTunnel,
                .proxyGatewayFailure,
                "\(where_) could not reach the server \(target) (\(reply)): the server is down, the port is wrong, "
                    + "or the proxy has no route to it"
            )
        case 405, 501:
            return make(
                .proxyTunnel,
                .proxyRefused,
                "\(where_) does not allow CONNECT (\(reply)): it is not a tunnelling proxy, or tunnels are "
                    + "switched off"
            )
        case 403:
            return make(
                .proxyTunnel,
                .proxyRefused,
                "\(where_) refused the tunnel to \(target) (\(reply)): its rules forbid CONNECT to this host or "
                    + "port \(target.port); ask the proxy's administrator to allow it (ask for port \(target.port); "
                    + "many proxies allow only 443, where tt-server can listen too)"
            )
        case 400...599:
            return make(.proxyTunnel, .proxyRefused, "\(where_) refused the tunnel to \(target) (\(reply))")
        case 100...399:
            // A redirect or an interim answer is no answer to CONNECT: something that is not a tunnelling proxy
            // (or a captive portal) is listening there.
            return make(
                .proxyTunnel,
                .proxyProtocolViolation,
                "\(where_) answered CONNECT with \(reply), which is not a CONNECT answer (a redirect or a portal?); "
                    + "check that this is the proxy's address"
            )
        default:
            break
        }

        switch result {
        case CURLE_URL_MALFORMAT:
            return make(
                .proxyConnect,
                .configuration,
                "'\(target)' through \(where_) is not a host and port libcurl can use: \(curlMessage)"
            )
        case CURLE_COULDNT_RESOLVE_PROXY:
            return make(
                .proxyConnect,
                .proxyUnreachable,
                "cannot resolve the proxy name \"\(proxy.endpoint.host)\" (\(where_)); check the proxy address"
            )
        case CURLE_COULDNT_CONNECT where !tcpConnected:
            let reason: String
            switch osErrno {
            case ECONNREFUSED:
                reason = "refused the connection: nothing is listening on port \(proxy.endpoint.port)"
            case ENETUNREACH, EHOSTUNREACH:
                reason = "is unreachable (\(SystemError.describe(osErrno)))"
            default:
                reason = "cannot be connected to (\(curlMessage.isEmpty ? CurlEasy.describe(result) : curlMessage))"
            }
            return make(.proxyConnect, .proxyUnreachable, "\(where_) \(reason); check the proxy host and port")
        case CURLE_SSL_CACERT_BADFILE:
            return make(
                .proxyConnect,
                .configuration,
                "the CA file for \(where_) cannot be used: \(curlMessage)"
            )
        case CURLE_PEER_FAILED_VERIFICATION:
            // The proxy speaks TLS; its certificate is what failed: libcurl's words say why (self-signed, an
            // unknown issuer, another name).
            return make(
                .proxyConnect,
                .proxyProtocolViolation,
                "the TLS certificate of \(where_) is not trusted: "
                    + "\(curlMessage.isEmpty ? CurlEasy.describe(result) : curlMessage); give the CA file that "
                    + "signed it, or skip the verification"
            )
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER:
            return make(
                .proxyConnect,
                .proxyProtocolViolation,
                "TLS with \(where_) failed: \(curlMessage.isEmpty ? CurlEasy.describe(result) : curlMessage); "
                    + "check that it is an https:// proxy, or give the CA file that signed its certificate "
                    + "(or skip the verification)"
            )
        default:
            return make(.proxyTunnel, .proxyProtocolViolation, violationMessage(where_, target, proxy))
        }
    }

    /// The reason phrase of the proxy's status line (`Unable to connect` of tinyproxy's `500 Unable to connect`).
    private var reasonPhrase: String? {
        guard let line = recorder.lastStatusLine else { return nil }
        let parts = line.split(separator: " ", maxSplits: 2)
        return parts.count == 3 ? String(parts[2]) : nil
    }

    private func authenticationMessage(
        _ where_: String,
        _ target: Endpoint,
        _ proxy: HTTPProxy,
        _ reply: String
    )
        -> String
    {
        let offered = offeredSchemes.isEmpty ? "no scheme libcurl supports" : offeredSchemes.joined(separator: ", ")
        // An empty user (`--proxy-user :`) is no credential: it only lets libcurl use the Kerberos ticket.
        guard let credentials = proxy.credentials, !credentials.user.isEmpty else {
            return "\(where_) requires authentication (\(reply); it offers \(offered)), and no proxy "
                + "credentials were given"
        }
        if proxy.authScheme != .any,
            !offeredSchemes.map({ $0.lowercased() }).contains(proxy.authScheme.rawValue)
        {
            return "\(where_) does not offer the \(proxy.authScheme) authentication we were told to use (it offers "
                + "\(offered)); use --proxy-auth any, or --proxy-auth with one of those"
        }
        let scheme = recorder.lastAuthSchemeSent.map { " (\($0))" } ?? ""
        return "\(where_) rejected the credentials of user \"\(credentials.user)\"\(scheme) (\(reply); it offers "
            + "\(offered)): check the proxy user name and password"
    }

    func tooLargeMessage(_ where_: String) -> String {
        "\(where_) sent CONNECT response headers that are too large (over "
            + "\(ConnectExchangeRecorder.headerLimit / 1024) KiB, or one line over libcurl's 16 KiB); it is misbehaving"
    }

    private func violationMessage(_ where_: String, _ target: Endpoint, _ proxy: HTTPProxy) -> String {
        let prefix = recorder.incomingPrefix
        if prefix.isEmpty {
            if osErrno == ECONNRESET, proxy.scheme == .http {
                // A TLS port (an https:// proxy, or a TLS front) resets a plain-HTTP CONNECT this way.
                return "\(where_) reset the connection before answering the CONNECT request for \(target): if it "
                    + "is an https:// proxy, use https://\(proxy.endpoint); else check that it is an HTTP proxy "
                    + "and this its port"
            }
            if osErrno == ECONNRESET {
                return "\(where_) reset the connection before answering the CONNECT request for \(target); "
                    + "check that it is a proxy and this its port"
            }
            // libcurl keeps an unfinished line to itself, so "nothing" and "a TLS alert" look the same here.
            return "\(where_) closed the connection before sending a complete answer to the CONNECT request for "
                + "\(target) (an empty or cut-off reply); is it an HTTP proxy, and is this its port? (a TLS server "
                + "answers plain HTTP this way: if it is an https:// proxy, use https://\(proxy.endpoint))"
        }
        if prefix.count >= 2, prefix[0] == 0x15 || prefix[0] == 0x16, prefix[1] == 0x03 {
            return "\(where_) answered with TLS, not HTTP: it expects https://\(proxy.endpoint)"
        }
        if recorder.lastStatusLine == nil {
            return "\(where_) answered something that is not HTTP: \(PrintableBytes.quoted(prefix, limit: 64)); "
                + "is it an HTTP proxy, and is this its port?"
        }
        let detail = curlMessage.isEmpty ? CurlEasy.describe(result) : curlMessage
        return "\(where_) sent an invalid answer to CONNECT (\(detail)): "
            + PrintableBytes.quoted(prefix, limit: 64)
    }
}

/// Removes a password from text that might, against expectations, contain it (defence in depth: messages
/// are built without credentials, but libcurl's text is not ours).
enum Redaction {
    static func scrub(_ text: String, _ credentials: ProxyCredentials?) -> String {
        guard let password = credentials?.password, password.count >= 3 else { return text }
        return text.replacing(password, with: "<redacted>")
    }
}
