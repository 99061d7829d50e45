import Glibc

/// An IPv4 or IPv6 address in its 16-byte form (IPv4 as `::ffff:a.b.c.d`), like Go's `net.IP`, so both
/// spellings of an IPv4 address compare equal.
public struct IPAddress: Hashable, Sendable {
    /// The 16 bytes (IPv4 mapped into `::ffff:0:0/96`).
    public let bytes: [UInt8]

    /// Parses an IPv4 dotted quad or an IPv6 literal (no brackets, no zone).
    public init?(_ text: some StringProtocol) {
        let string = String(text)
        // inet_pton reads a C string: text after a NUL would be ignored, not refused.
        guard !string.utf8.contains(0) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, string, &v4) == 1 {
            let value = UInt32(bigEndian: v4.s_addr)
            bytes =
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
                + (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, string, &v6) == 1 else { return nil }
        bytes = withUnsafeBytes(of: &v6) { Array($0) }
    }

    /// The four bytes of an IPv4 (or IPv4-mapped) address.
    public var ipv4: [UInt8]? {
        bytes[..<12].elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]) ? Array(bytes[12...]) : nil
    }

    /// 127.0.0.0/8 or `::1`.
    public var isLoopback: Bool {
        if let ipv4 { return ipv4[0] == 127 }
        return bytes == [UInt8](repeating: 0, count: 15) + [1]
    }
}

/// An address block (`10.0.0.0/8`, `2001:db8::/32`), matching like Go's `net.IPNet.Contains`: an IPv4 block
/// contains only IPv4 addresses, an IPv6 block only IPv6 ones.
public struct IPNetwork: Hashable, Sendable {
    private let network: [UInt8]
    private let prefixLength: Int

    /// Parses `ADDRESS/BITS`; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parts[0]), let bits = Int(parts[1]),
            parts[1].allSatisfy(\.isNumber)
        else { return nil }
        let raw = address.ipv4 ?? address.bytes
        guard (0...raw.count * 8).contains(bits) else { return nil }
        network = raw
        prefixLength = bits
    }

    /// Whether `address` lies in the block (of the same family).
    public func contains(_ address: IPAddress) -> Bool {
        let candidate: [UInt8]
        if network.count == 4 {
            guard let ipv4 = address.ipv4 else { return false }
            candidate = ipv4
        } else {
            guard address.ipv4 == nil else { return false }
            candidate = address.bytes
        }
        var remaining = prefixLength
        for index in 0..<network.count where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xff : ~(0xff >> UInt8(remaining))
            if candidate[index] & mask != network[index] & mask { return false }
            remaining -= 8
        }
        return true
    }
}
