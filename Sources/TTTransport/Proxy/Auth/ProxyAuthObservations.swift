import CGSSProbe
import TTBasics

/// What one CONNECT exchange revealed about proxy authentication, read off libcurl's debug stream: the schemes
/// the proxy offered (its `Proxy-Authenticate` headers, in its order), the schemes our requests carried, and
/// why GSSAPI could not produce a Kerberos token.
///
/// libcurl's header callback never sees the headers of a CONNECT answer (`CURLOPT_SUPPRESS_CONNECT_HEADERS`
/// keeps them from the body stream), and `CURLINFO_PROXYAUTH_AVAIL` loses the proxy's order and the schemes
/// libcurl does not know, so the debug stream is where these facts are. Only scheme words are kept, never a
/// token or a credential.
struct ProxyAuthObservations {
    /// The schemes of every `Proxy-Authenticate` header, canonical names (`Negotiate`, `NTLM`, `Digest`,
    /// `Basic`), in the proxy's order, without repeats; schemes we cannot speak are left out.
    private(set) var offered: [String] = []
    /// The schemes our CONNECT requests carried, in order, without repeats.
    private(set) var sent: [String] = []
    /// libcurl's text when `gss_init_sec_context` failed (GSSAPI's major and minor status messages).
    private(set) var gssFailure: String?

    /// Canonical names of the schemes we can use, strongest first (libcurl's own preference, and Chromium's).
    static let strengthOrder = ["Negotiate", "Digest", "NTLM", "Basic"]

    /// The canonical name of an authentication scheme word, or `nil` for one we cannot speak.
    static func canonical(_ word: some StringProtocol) -> String? {
        strengthOrder.first { $0.lowercased() == word.lowercased() }
    }

    /// Notes `Proxy-Authenticate` lines of one incoming header line or block.
    mutating func recordIncoming(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let lowered = line.lowercased()
            guard lowered.hasPrefix("proxy-authenticate:") else { continue }
            // One header may carry several challenges (`Digest realm="x", nonce="y", Basic realm="x"`): a
            // comma-separated part whose first word is a scheme name (not `name=value`) starts one.
            for part in line.dropFirst("proxy-authenticate:".count).split(separator: ",") {
                let word = part.trimmingWhitespace().prefix { $0 != " " && $0 != "\t" }
                guard !word.contains("="), let scheme = Self.canonical(word) else { continue }
                if !offered.contains(scheme) { offered.append(scheme) }
            }
        }
    }

    /// Notes the scheme of the `Proxy-Authorization` header of an outgoing CONNECT.
    mutating func recordSent(scheme: String?) {
        guard let scheme, let name = Self.canonical(scheme) else { return }
        if !sent.contains(name) { sent.append(name) }
    }

    /// Notes libcurl's informational text; keeps the GSSAPI failure (libcurl logs it as
    /// `gss_init_sec_context() failed: …` and then sends the CONNECT again without credentials).
    mutating func recordText(_ text: String) {
        guard gssFailure == nil, text.contains("gss_init_sec_context") else { return }
        gssFailure = PrintableBytes.escaped(Array(text.trimmingWhitespace().utf8), limit: 300)
    }
}

/// Why a Kerberos (Negotiate) token could not be made, from GSSAPI's status text.
enum KerberosProblem: Sendable, Hashable {
    /// No ticket-granting ticket in the credential cache (`KRB5CCNAME`): the user never ran kinit.
    case noTicket
    /// The ticket in the cache has expired.
    case expired
    /// The KDC of the ticket's realm does not know the proxy's service principal `HTTP/host`: the ticket is
    /// for another realm, or the proxy is addressed by a name that is not its principal's.
    case unknownService
    /// Any other GSSAPI failure (no KDC reachable, clock skew…), with GSSAPI's text.
    case other(String)

    init(gssText text: String) {
        let lowered = text.lowercased()
        if lowered.contains("no kerberos credentials") || lowered.contains("no credentials cache")
            || lowered.contains("credentials cache file") && lowered.contains("not found")
            || lowered.contains("no credentials were supplied")
        {
            self = .noTicket
        } else if lowered.contains("expired") {
            self = .expired
        } else if lowered.contains("server not found in kerberos database") || lowered.contains("cannot find kdc")
            || lowered.contains("unknown server")
        {
            self = .unknownService
        } else {
            self = .other(text)
        }
    }

    /// Asks GSSAPI's krb5 mechanism directly why no token for `HTTP@proxyHost` could be made, after libcurl's
    /// SPNEGO attempt failed with `gssText`. SPNEGO's own error ("cannot find mechanisms to negotiate") is the
    /// same for a missing, an expired and a wrong-realm ticket; the krb5 mechanism's status tells them apart.
    /// Without libgssapi_krb5 (or when the probe itself succeeds) the text decides.
    static func diagnose(gssText: String, proxyHost: String) -> KerberosProblem {
        var detail = [CChar](repeating: 0, count: 512)
        let code = CGSSProbe_check(proxyHost, &detail, detail.count)
        let text = String(decoding: detail.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch code {
        case CGSSProbe_NO_TICKET: return .noTicket
        case CGSSProbe_EXPIRED: return .expired
        case CGSSProbe_UNKNOWN_SERVICE: return .unknownService
        case CGSSProbe_OTHER where !text.isEmpty: return .other(PrintableBytes.escaped(Array(text.utf8), limit: 200))
        default: return KerberosProblem(gssText: gssText)
        }
    }

    /// The short verdict for the list of schemes tried (`Negotiate: no Kerberos ticket`).
    var verdict: String {
        switch self {
        case .noTicket: "no Kerberos ticket"
        case .expired: "Kerberos ticket expired"
        case .unknownService: "no Kerberos service ticket for the proxy (another realm?)"
        case .other: "Kerberos failed"
        }
    }

    /// The full sentence for a failure where Kerberos was the only way in.
    func message(proxyHost: String) -> String {
        let alternative = "or give --proxy-user for another scheme"
        switch self {
        case .noTicket:
            return "the proxy wants Kerberos (Negotiate) and there is no ticket: run kinit, \(alternative)"
        case .expired:
            return "the proxy wants Kerberos (Negotiate) and the Kerberos ticket has expired: run kinit again, "
                + alternative
        case .unknownService:
            return "the proxy wants Kerberos (Negotiate) and the KDC of the ticket's realm knows no service "
                + "HTTP/\(proxyHost) (a ticket for another realm, or the proxy addressed by another name than its "
                + "principal's): kinit in the proxy's realm, or address the proxy by its principal's host name, "
                + alternative
        case .other(let text):
            return "the proxy wants Kerberos (Negotiate) and no token could be made (\(text)): check the ticket "
                + "with klist, \(alternative)"
        }
    }
}
