import TTBasics
public import TTTransport

/// TLS with the server: reporting the session, and telling a proxy that inspects the tunnel from a failure.
extension FrameworkClient {
    /// Writes the TLS session of a new connection to the API trace and reports the `tls` stage.
    func reportTLS(_ report: ConnectionReport) {
        guard let tls = report.tls else { return }
        trace.record(
            "TMSS10API_Connect: TLS(\(tls.version) \(tls.cipher)) SNI(\(tls.serverName ?? "none")) "
                + "Issuer(\(tls.issuer ?? "none"))" + (tls.interceptionSuspected ? " intercepted" : "")
        )
        var detail = tls.summary
        if tls.interceptionSuspected { detail += "; " + Self.interceptionNote(tls, server: configuration.server) }
        observer?(.stageCompleted(.tls, duration: tls.handshakeTime, detail: detail))
    }

    /// What a successful connection through an intercepting proxy means for the user.
    public static func interceptionNote(_ tls: TLSSessionReport, server: Endpoint) -> String {
        "the proxy intercepts TLS: the certificate for \(server.host) was issued by \(tls.issuerName), not by the "
            + "server; the framework protocol's own encryption and pinned identity still protect the session"
    }

    /// The handshake failed through a proxy in a way only an inspecting proxy causes; `nil` when it did not.
    ///
    /// - Inside TLS whose certificate the proxy made up (``TLSSessionReport/interceptionSuspected``): the proxy
    ///   decrypted the session and answered (squid: `HTTP/1.1 400` with `X-Squid-Error: ERR_PROTOCOL_UNKNOWN`) or
    ///   closed it when the framework hello was not HTTP.
    /// - Without TLS: the tunnel closed at once with zero bytes: the proxy peeked at the first bytes, which were
    ///   not a TLS ClientHello.
    func inspectedTunnel(
        _ transport: any Transport,
        received: [UInt8],
        closed: Bool,
        deadline: Deadline
    ) -> FrameworkClientError? {
        guard case .proxy(let proxy, _) = configuration.route else { return nil }
        let server = configuration.server
        guard let tls = transport.report.tls else {
            guard closed, received.isEmpty else { return nil }
            return FrameworkClientError(
                stage: .handshake,
                category: .tunnelInspected,
                message: "the proxy \(proxy.endpoint) closed the tunnel to \(server) as soon as non-TLS bytes were "
                    + "sent; it inspects traffic: use --tls (auto, the default, or always)"
            )
        }
        guard tls.interceptionSuspected else { return nil }
        var answer = received
        if !closed { answer += Self.drain(transport, limit: 4096, deadline: min(deadline, .after(.seconds(1)))) }
        let blocked: String
        if let proxyError = Self.proxyError(in: answer) {
            blocked = "answered the framework hello inside it with \(proxyError)"
        } else if answer.isEmpty {
            blocked = "closed the connection when the framework protocol started inside it"
        } else {
            blocked = "answered the framework hello inside it with \(PrintableBytes.quoted(answer, limit: 48))"
        }
        return FrameworkClientError(
            stage: .handshake,
            category: .tunnelInspected,
            message: "the proxy \(proxy.endpoint) intercepts TLS and blocked the tunnel: the certificate for "
                + "\(server.host) was issued by \(tls.issuerName), not by the server, and the proxy \(blocked). "
                + "Ask the proxy's administrator for a splice (no-bump) exception for \(server) "
                + "(squid: `ssl_bump splice` for this host and port)"
        )
    }

    /// The proxy's own error in an HTTP answer: `HTTP/1.1 400 Bad Request, X-Squid-Error: ERR_PROTOCOL_UNKNOWN 0`.
    static func proxyError(in answer: [UInt8]) -> String? {
        let text = String(decoding: answer, as: UTF8.self)
        guard text.hasPrefix("HTTP/") else { return nil }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\r\n" || $0 == "\n" })
        var parts = [String(String(lines.first ?? "").trimmingWhitespace())]
        for line in lines.dropFirst() {
            if line.isEmpty { break }
            let lower = line.lowercased()
            if lower.hasPrefix("x-squid-error:") || lower.hasPrefix("x-error:") {
                parts.append(PrintableBytes.escaped(Array(line.utf8), limit: 120))
            }
        }
        return "\"" + parts.joined(separator: "\", \"") + "\""
    }

    /// Reads what the peer still sends, up to `limit` bytes, until it closes or `deadline` passes.
    static func drain(_ transport: any Transport, limit: Int, deadline: Deadline) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: limit)
        while bytes.count < limit {
            let count =
                (try? buffer.withUnsafeMutableBytes { try transport.receiveSome(into: $0, deadline: deadline) }) ?? 0
            guard count > 0 else { break }
            bytes += buffer[0..<min(count, limit - bytes.count)]
        }
        return bytes
    }
}
