import Glibc

/// The fairness key of a client address, for both servers' password-check queues: an IPv4 address as it is, an
/// IPv6 address by its /64 (one host, or one customer, usually owns a whole /64: keying by the full address would
/// give it 2^64 queues), an IPv4-mapped IPv6 address as IPv4. Anything else is its own key.
package enum SourceKey {
    /// - Parameter host: the numeric address of the peer (`192.0.2.1`, `2001:db8::1`).
    package static func of(host: String) -> String {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return host }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return host }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12...].map(String.init).joined(separator: ".")
        }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
    }
}
