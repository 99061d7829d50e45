import CGSSProbe

/// Whom a proxy authenticated, for the tunnel line (`(auth Negotiate as alice@TT.TEST)`): with a Kerberos
/// ticket and `-U bob:…` both, only the scheme tells which identity the proxy logs.
enum ProxyAuthIdentity {
    /// The user name for a password scheme, the ticket's principal for Negotiate; `nil` when unknown.
    static func name(scheme: String?, credentials: ProxyCredentials?) -> String? {
        guard let scheme else { return nil }
        if scheme.lowercased() == "negotiate" {
            var buffer = [CChar](repeating: 0, count: 512)
            guard CGSSProbe_principal(&buffer, buffer.count) == CGSSProbe_OK else { return nil }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        guard let user = credentials?.user, !user.isEmpty else { return nil }
        return user
    }
}
