import CCurl
import Logging

/// Proxy authentication beyond libcurl: every scheme the proxy offers is tried, strongest first, until one is
/// accepted, as browsers do (Chromium's `HttpAuthController`).
///
/// libcurl picks one scheme per exchange (Negotiate > Digest > NTLM > Basic, whatever the proxy's order) and
/// gives up when it fails: with no Kerberos ticket it sends Negotiate nothing, repeats the CONNECT without
/// credentials and stops at the 407, so a valid Basic password is never sent. Here:
/// 1. The first exchange offers libcurl every scheme we have credentials for (all with a user; Negotiate alone,
///    through the ticket cache, without one). When the proxy wants no authentication this is the only exchange.
/// 2. After a 407, the schemes the proxy offered (its `Proxy-Authenticate` headers) that were not tried yet are
///    tried one at a time, strongest first, each on a fresh connection: a rejected connection-based scheme
///    (NTLM, Negotiate) leaves its connection in no state to reuse, and many proxies close it. Password schemes
///    are skipped without a user.
/// 3. Every verdict is kept: the report (and `check`) shows `Negotiate: no Kerberos ticket · Basic: accepted`,
///    a final failure names each scheme's verdict.
///
/// An explicit scheme (``ProxyAuthScheme`` other than `any`) means that scheme only: one exchange, no fallback.
///
/// Basic is the password itself. When it goes to a plain `http://` proxy after a stronger scheme the proxy offered
/// did not pass, that is never silent: `-v` says so before the attempt, the report carries
/// ``ConnectionReport/authWarning`` for the tunnel line, and the logger warns. With
/// ``HTTPProxy/forbidsBasicInClear`` Basic never goes to such a proxy: not in the first exchange, not as a
/// fallback, not as the explicit scheme.
enum ProxyAuthFallback {
    /// The separator between verdicts in messages.
    static let separator = " · "

    static func open(
        target: Endpoint,
        proxy: HTTPProxy,
        options: HTTPProxyOptions,
        deadline: Deadline,
        tls: TargetTLSOptions?,
        interrupter: ConnectionInterrupter?
    ) throws -> HTTPProxyTransport {
        let hasUser = !(proxy.credentials?.user.isEmpty ?? true)
        let basicForbidden = proxy.forbidsBasicInClear && proxy.sendsBasicInClear
        if proxy.authScheme == .basic, basicForbidden {
            throw TransportError(
                stage: .proxyTunnel,
                category: .proxyAuthenticationRequired,
                message: "proxy \(proxy.url): the proxy authentication scheme is basic, and proxy-auth-no-basic = yes "
                    + "forbids sending the password as Basic to a plain http:// proxy: use an https:// proxy, or "
                    + "another --proxy-auth scheme"
            )
        }
        if proxy.authScheme != .any {
            let mask = ProxyAuthSchemes.mask(for: proxy.authScheme)
            let recorder = ConnectExchangeRecorder(
                trace: options.exchangeTrace,
                password: proxy.credentials?.password,
                hiddenHeaders: options.extraHeaderNames
            )
            do {
                let transport = try attempt(target, proxy, options, deadline, mask, recorder, tls, interrupter)
                if let scheme = recorder.auth.sent.last { transport.report.authAttempts = ["\(scheme): accepted"] }
                return transport
            } catch var error as TransportError {
                // libcurl sends a single scheme unasked, so a GSSAPI failure counts only if Negotiate was offered.
                if error.category == .proxyAuthenticationRequired, let gss = recorder.auth.gssFailure,
                    recorder.auth.offered.contains("Negotiate") || error.offeredAuthSchemes.contains("Negotiate")
                {
                    error.message =
                        "proxy \(proxy.url): "
                        + KerberosProblem.diagnose(gssText: gss, proxyHost: proxy.endpoint.host)
                        .message(proxyHost: proxy.endpoint.host)
                }
                throw error
            }
        }

        let started = ContinuousClock.now
        var verdicts: [(scheme: String, verdict: String)] = []
        let firstRecorder = ConnectExchangeRecorder(
            trace: options.exchangeTrace,
            password: proxy.credentials?.password,
            hiddenHeaders: options.extraHeaderNames
        )
        // Without a user only the ticket can help. CURLAUTH_ONLY makes libcurl wait for the 407 and use Negotiate
        // only when offered: a single scheme alone would be sent unasked, handing a Kerberos token to any proxy.
        // Without Basic, several schemes remain, so libcurl still waits for the 407 before it sends any.
        let firstMask =
            hasUser
            ? (basicForbidden ? CCurl_AUTH_ANY & ~CCurl_AUTH_BASIC : CCurl_AUTH_ANY)
            : CCurl_AUTH_NEGOTIATE | CCurl_AUTH_ONLY
        var lastError: TransportError
        do {
            let transport = try attempt(target, proxy, options, deadline, firstMask, firstRecorder, tls, interrupter)
            if let scheme = firstRecorder.auth.sent.last { transport.report.authAttempts = ["\(scheme): accepted"] }
            return transport
        } catch let error as TransportError where error.category == .proxyAuthenticationRequired {
            lastError = error
        }
        // The proxy's headers, plus what libcurl parsed (CURLINFO_PROXYAUTH_AVAIL) in case a header was unusual.
        var offered = firstRecorder.auth.offered
        for scheme in lastError.offeredAuthSchemes.compactMap(ProxyAuthObservations.canonical)
        where !offered.contains(scheme) {
            offered.append(scheme)
        }
        let host = proxy.endpoint.host
        // A GSSAPI failure matters only where the proxy asked for Negotiate.
        let negotiateOffered = offered.contains("Negotiate")
        var kerberos = firstRecorder.auth.gssFailure.flatMap {
            negotiateOffered ? KerberosProblem.diagnose(gssText: $0, proxyHost: host) : nil
        }
        verdicts += Self.verdicts(of: firstRecorder, kerberos: kerberos, negotiateOffered: negotiateOffered)
        let tried = Set(verdicts.map(\.scheme))
        // Said again in the final failure: a rejected Basic still crossed the link.
        var clearBasic: String?

        for scheme in ProxyAuthObservations.strengthOrder where offered.contains(scheme) && !tried.contains(scheme) {
            guard scheme == "Negotiate" || hasUser else {
                verdicts.append((scheme, "no user given"))
                continue
            }
            if scheme == "Basic", basicForbidden {
                verdicts.append((scheme, Self.withheld))
                continue
            }
            var warning: String?
            if scheme == "Basic", proxy.sendsBasicInClear {
                let failed = verdicts.filter { $0.scheme != "Basic" && $0.verdict != "no user given" }.map(\.scheme)
                warning = Self.clearBasicWarning(proxy: proxy, failed: failed)
            }
            if let warning {
                clearBasic = warning
                options.exchangeTrace?.write("* warning: \(warning)")
                options.logger.warning(
                    "proxy password sent as Basic in the clear",
                    metadata: ["proxy": "\(proxy.url)", "warning": "\(warning)"]
                )
            }
            let recorder = ConnectExchangeRecorder(
                trace: options.exchangeTrace,
                password: proxy.credentials?.password,
                hiddenHeaders: options.extraHeaderNames
            )
            do {
                let transport = try attempt(
                    target,
                    proxy,
                    options,
                    deadline,
                    mask(of: scheme),
                    recorder,
                    tls,
                    interrupter
                )
                // The tunnel took every attempt, not just the last one.
                let report = transport.report
                transport.report.tunnelTime = max(.zero, (ContinuousClock.now - started) - report.tcpConnectTime)
                transport.report.authAttempts = (verdicts + [(scheme, "accepted")]).map {
                    "\($0.scheme): \($0.verdict)"
                }
                transport.report.authWarning = warning
                options.logger.debug(
                    "proxy authentication fell back",
                    metadata: [
                        "proxy": "\(proxy.url)",
                        "schemes": "\(transport.report.authAttempts.joined(separator: separator))",
                    ]
                )
                return transport
            } catch let error as TransportError where error.category == .proxyAuthenticationRequired {
                lastError = error
                if kerberos == nil {
                    kerberos = recorder.auth.gssFailure.map { KerberosProblem.diagnose(gssText: $0, proxyHost: host) }
                }
                let found = Self.verdicts(of: recorder, kerberos: kerberos, negotiateOffered: negotiateOffered)
                verdicts += found.isEmpty ? [(scheme, "rejected")] : found
            }
        }
        var error = failure(
            lastError,
            proxy: proxy,
            offered: offered,
            verdicts: verdicts,
            kerberos: kerberos,
            hasUser: hasUser
        )
        if let clearBasic { error.message += "; warning: \(clearBasic)" }
        throw error
    }

    /// The verdict of Basic when ``HTTPProxy/forbidsBasicInClear`` kept it from a plain `http://` proxy.
    static let withheld = "not sent (proxy-auth-no-basic)"

    /// What the tunnel line and `-v` say when the password goes as Basic to a plain `http://` proxy after the
    /// stronger schemes in `failed` did not pass; `nil` when none was tried (a proxy offering only Basic).
    static func clearBasicWarning(proxy: HTTPProxy, failed: [String]) -> String? {
        guard !failed.isEmpty else { return nil }
        return "\(failed.joined(separator: ", ")) did not pass, so the password goes as Basic, readable by anyone "
            + "on the link to the plain http:// proxy \(proxy.url): use an https:// proxy, or choose the scheme "
            + "with --proxy-auth; proxy-auth-no-basic = yes in the config file forbids this"
    }

    /// The verdicts one failed exchange shows: Negotiate without a token is a Kerberos problem; a scheme our
    /// requests carried and the proxy answered with 407 was rejected.
    private static func verdicts(
        of recorder: ConnectExchangeRecorder,
        kerberos: KerberosProblem?,
        negotiateOffered: Bool
    ) -> [(scheme: String, verdict: String)] {
        var verdicts: [(scheme: String, verdict: String)] = []
        if let gss = recorder.auth.gssFailure, negotiateOffered {
            verdicts.append(("Negotiate", (kerberos ?? KerberosProblem(gssText: gss)).verdict))
        }
        for scheme in recorder.auth.sent where !verdicts.contains(where: { $0.scheme == scheme }) {
            verdicts.append((scheme, "rejected"))
        }
        return verdicts
    }

    /// The error after every usable scheme failed: the last 407, with a message naming each scheme's verdict.
    private static func failure(
        _ last: TransportError,
        proxy: HTTPProxy,
        offered: [String],
        verdicts: [(scheme: String, verdict: String)],
        kerberos: KerberosProblem?,
        hasUser: Bool
    ) -> TransportError {
        var error = last
        let list = verdicts.map { "\($0.scheme): \($0.verdict)" }.joined(separator: separator)
        let offers = offered.isEmpty ? "no scheme we support" : offered.joined(separator: ", ")
        let rejected = verdicts.contains { $0.verdict == "rejected" }
        if verdicts.contains(where: { $0.verdict == withheld }) {
            error.message =
                "proxy \(proxy.url): no scheme passed (\(list)), and proxy-auth-no-basic "
                + "= yes forbids sending the password as Basic to a plain http:// proxy: use an https:// proxy, "
                + "or get a stronger scheme working (a Kerberos ticket, the right password for Digest or NTLM)"
        } else if let kerberos, !rejected {
            error.message = "proxy \(proxy.url): \(kerberos.message(proxyHost: proxy.endpoint.host))"
        } else if let user = proxy.credentials?.user, hasUser, rejected {
            error.message =
                "proxy \(proxy.url) rejected the credentials of user \"\(user)\" with every scheme it "
                + "offers (\(list)): check the proxy user name and password"
        } else if rejected {
            // Only a Kerberos ticket was tried, and the proxy refused it (its keytab does not match the KDC's key,
            // or the user is not allowed): a password scheme is what is left.
            error.message =
                "proxy \(proxy.url) requires authentication and no scheme it offers (\(offers)) "
                + "succeeded (\(list)): give --proxy-user USER for a password scheme"
        }
        // Otherwise nothing was tried (no user, no Negotiate offered): the 407's message already says that no
        // credentials were given.
        return error
    }

    private static func mask(of scheme: String) -> UInt {
        switch scheme {
        case "Negotiate": CCurl_AUTH_NEGOTIATE
        case "Digest": CCurl_AUTH_DIGEST
        case "NTLM": CCurl_AUTH_NTLM
        default: CCurl_AUTH_BASIC
        }
    }

    private static func attempt(
        _ target: Endpoint,
        _ proxy: HTTPProxy,
        _ options: HTTPProxyOptions,
        _ deadline: Deadline,
        _ mask: UInt,
        _ recorder: ConnectExchangeRecorder,
        _ tls: TargetTLSOptions?,
        _ interrupter: ConnectionInterrupter?
    ) throws -> HTTPProxyTransport {
        try HTTPProxyTransport.attempt(
            target: target,
            proxy: proxy,
            options: options,
            deadline: deadline,
            authMask: mask,
            recorder: recorder,
            tls: tls,
            interrupter: interrupter
        )
    }
}
