import CCurl
import TTBasics

/// Whether the connection to the framework server runs inside TLS (docs/TRANSPORT.md, "TLS to the server").
///
/// Proxies that inspect tunnels (squid `ssl_bump peek`, next-generation firewalls) close a tunnel whose first bytes
/// are not a TLS ClientHello; inside TLS the framework connection looks like any HTTPS connection.
public enum TLSMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// TLS through a proxy, raw on a direct connection (which stays as fast as it was).
    case auto
    /// TLS on every connection, direct ones too.
    case always
    /// Never TLS: the framework bytes travel as they are.
    case never

    /// Parses `auto`, `always` or `never` (any case).
    public init?(parsing text: String) {
        self.init(rawValue: text.lowercased())
    }

    /// Whether a framework connection over this route is wrapped.
    public func wraps(throughProxy: Bool) -> Bool {
        switch self {
        case .auto: throughProxy
        case .always: true
        case .never: false
        }
    }

    public var description: String { rawValue }
}

/// The TLS settings for the connection to the server.
///
/// By default the certificate is not verified: the framework handshake's pinned Ed25519 identity is the trust
/// anchor, and a certificate a proxy made up is reported, not refused (``TLSSessionReport/interceptionSuspected``).
public struct TargetTLSOptions: Sendable, Hashable {
    /// When to use TLS.
    public var mode: TLSMode
    /// Verify the server's certificate chain and name (`--tls-verify`), with the system CAs or ``caFile``.
    public var verify: Bool
    /// A PEM bundle of CAs to verify with (`--tls-cacert`); implies ``verify``.
    public var caFile: String?

    /// Creates the settings; `auto`, no verification by default.
    public init(mode: TLSMode = .auto, verify: Bool = false, caFile: String? = nil) {
        self.mode = mode
        self.verify = verify || caFile != nil
        self.caFile = caFile
    }
}

/// What the TLS session with the server looked like: printed by `check`, written to the API trace and `--json`.
public struct TLSSessionReport: Sendable, Hashable {
    /// `TLS 1.3`, `TLS 1.2`.
    public var version: String
    /// The cipher suite, e.g. `TLS_AES_256_GCM_SHA384`.
    public var cipher: String
    /// The name sent as SNI; `nil` for an IP literal (as browsers do).
    public var serverName: String?
    /// The certificate's subject and issuer (RFC 2253, e.g. `CN=tapes.example.com`); `nil` without one.
    public var subject: String?
    public var issuer: String?
    /// The certificate signs itself (what tt-server creates when it has no certificate of its own).
    public var selfIssued: Bool
    /// The chain verifies against the system CAs or the given CA file (the host name not checked).
    public var chainVerified: Bool
    /// From the end of the TCP connect or the CONNECT answer until the TLS session was up.
    public var handshakeTime: Duration

    /// Creates a report.
    public init(
        version: String,
        cipher: String,
        serverName: String?,
        subject: String?,
        issuer: String?,
        selfIssued: Bool,
        chainVerified: Bool,
        handshakeTime: Duration
    ) {
        self.version = version
        self.cipher = cipher
        self.serverName = serverName
        self.subject = subject
        self.issuer = issuer
        self.selfIssued = selfIssued
        self.chainVerified = chainVerified
        self.handshakeTime = handshakeTime
    }

    /// The certificate was issued by someone other than the server and no trusted CA vouches for it: what a
    /// proxy that decrypts TLS with its own CA presents (tt-server's own certificate is self-issued; a real one
    /// chains to a public or given CA). A corporate CA installed in the system store is not detected this way;
    /// the framework's pinned identity still is.
    public var interceptionSuspected: Bool {
        issuer != nil && !selfIssued && !chainVerified
    }

    /// The issuer's common name as `CN=…`, or the whole issuer line.
    public var issuerName: String {
        guard let issuer else { return "an unknown issuer" }
        return issuer.split(separator: ",").first { $0.hasPrefix("CN=") }.map(String.init) ?? issuer
    }

    /// `TLS 1.3 TLS_AES_256_GCM_SHA384, SNI tapes.example.com` (or `no SNI (IP address)`).
    public var summary: String {
        "\(version) \(cipher), " + (serverName.map { "SNI \($0)" } ?? "no SNI (IP address)")
    }
}

/// The libcurl settings and facts of TLS with the target, shared by the direct and the proxy transport.
enum TargetTLS {
    /// The URL libcurl connects to: `https://` makes it run the TLS handshake after the TCP connect or the
    /// CONNECT exchange (`CURLOPT_CONNECT_ONLY`), and it sends the host as SNI unless it is an IP literal.
    /// The scheme of the target URL libcurl connects to: `https` when TLS runs with the target.
    static func scheme(_ tls: TargetTLSOptions?) -> String {
        tls == nil ? "http" : "https"
    }

    static func configure(_ easy: CurlEasy, _ tls: TargetTLSOptions?) throws {
        guard let tls else { return }
        // TLS 1.2 at least; libcurl offers 1.3 first, which tt-server and any current server choose.
        try easy.set(CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        try easy.set(CURLOPT_SSL_VERIFYPEER, tls.verify ? 1 : 0)
        try easy.set(CURLOPT_SSL_VERIFYHOST, tls.verify ? 2 : 0)
        if let caFile = tls.caFile {
            try easy.set(CURLOPT_CAINFO, caFile)
        } else if !tls.verify {
            // Nothing to verify with: libcurl need not parse the system CA bundle for every connection.
            try easy.set(CURLOPT_CAINFO, pointer: nil)
            try easy.set(CURLOPT_CAPATH, pointer: nil)
        }
        try easy.observeTLS(caFile: tls.caFile)
    }

    /// The facts of the established session, read through libssl from libcurl's OpenSSL session.
    static func report(
        _ easy: CurlEasy,
        target: Endpoint,
        tls: TargetTLSOptions,
        handshakeTime: Duration
    ) -> TLSSessionReport? {
        guard var facts = easy.tlsFacts?.pointee, facts.completed == 1 else { return nil }
        func text<T>(_ field: inout T) -> String {
            withUnsafeBytes(of: &field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let version = text(&facts.version)
        return TLSSessionReport(
            version: version.hasPrefix("TLSv") ? "TLS " + version.dropFirst(4) : version,
            cipher: text(&facts.cipher),
            serverName: IPAddress(target.host) == nil ? target.host : nil,
            subject: facts.hasCertificate == 1 ? text(&facts.subject) : nil,
            issuer: facts.hasCertificate == 1 ? text(&facts.issuer) : nil,
            selfIssued: facts.selfIssued == 1,
            chainVerified: facts.chainVerified == 1,
            handshakeTime: handshakeTime
        )
    }

    /// Whether a libcurl result is a failure of the TLS handshake with the target.
    static func isHandshakeFailure(_ result: CURLcode) -> Bool {
        [
            CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING,
        ].contains(result)
    }

    /// A failed TLS handshake with the target (after the TCP connect, or after the proxy's `200`); `session`
    /// holds what the handshake showed of the certificate before it failed.
    static func handshakeError(
        _ result: CURLcode,
        curlMessage: String,
        target: Endpoint,
        proxy: HTTPProxy?,
        tls: TargetTLSOptions,
        session: TLSSessionReport? = nil
    ) -> TransportError {
        let detail = curlMessage.isEmpty ? CurlEasy.describe(result) : curlMessage
        let stage: TransportError.Stage = proxy == nil ? .serverConnect : .tls
        let through = proxy.map { " through the proxy \($0.endpoint)" } ?? ""
        switch result {
        case CURLE_PEER_FAILED_VERIFICATION where proxy != nil && session?.interceptionSuspected == true:
            // Not the server's certificate: one the proxy made up with its own CA. That is interception, which
            // the framework's pinned identity survives; only --tls-verify refuses it.
            let issuer = session?.issuerName ?? "an unknown issuer"
            return TransportError(
                stage: stage,
                category: .tunnelInspected,
                message: "the proxy \(proxy?.endpoint.description ?? "") intercepts TLS: the certificate for "
                    + "\(target.host) was issued by \(issuer), not by the server, and --tls-verify refuses it "
                    + "(\(detail)). The framework's pinned identity protects the session without it: drop "
                    + "--tls-verify, trust that CA with --tls-cacert, or ask the proxy's administrator for a splice "
                    + "(no-bump) exception for \(target) (squid: `ssl_bump splice` for this host and port)",
                libcurlCode: Int(result.rawValue)
            )
        case CURLE_SSL_CACERT_BADFILE:
            return TransportError(
                stage: stage,
                category: .configuration,
                message: "the CA file \(tls.caFile ?? "") for \(target) cannot be used: \(detail)",
                libcurlCode: Int(result.rawValue)
            )
        case CURLE_PEER_FAILED_VERIFICATION:
            var message =
                "the TLS certificate of \(target)\(through) did not verify (\(detail)); the framework's pinned "
                + "identity does not need it: drop --tls-verify, or give the CA that signed it with --tls-cacert"
            if proxy != nil, session?.issuer == nil {
                // Without the certificate's facts, interception cannot be ruled out.
                message += ". A proxy that intercepts TLS presents a certificate of its own CA"
            }
            return TransportError(
                stage: stage,
                category: .tlsVerificationFailed,
                message: message,
                libcurlCode: Int(result.rawValue)
            )
        default:
            return TransportError(
                stage: stage,
                category: .tlsHandshakeFailed,
                message: "the TLS handshake with \(target)\(through) failed (\(detail)): the server does not "
                    + "speak TLS on that port (a tt-server older than TLS, or another service)"
                    + (proxy == nil ? "" : ", or the proxy broke the TLS session")
                    + "; try --tls never",
                libcurlCode: Int(result.rawValue)
            )
        }
    }
}
