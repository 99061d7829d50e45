public import TTBasics

/// Who may send a PROXY protocol header: the balancers of ``ServerConfiguration/proxyProtocolSources``.
extension ServerConfiguration {
    /// A `--proxy-protocol-from` item that is not an address block.
    public struct ProxyProtocolSourceError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The item as given (trimmed).
        public var item: String

        public var description: String {
            "--proxy-protocol-from: '\(item)' is not an address block like 10.0.0.0/8 or 2001:db8::/32"
        }
    }

    /// Parses `CIDR[,CIDR…]` (`--proxy-protocol-from`), each item `ADDRESS/BITS`.
    /// - Throws: ``ProxyProtocolSourceError`` naming the first item that is not one (an empty item too).
    public static func proxyProtocolSources(parsing list: String) throws(ProxyProtocolSourceError) -> [IPNetwork] {
        var sources: [IPNetwork] = []
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingWhitespace()
            guard let network = IPNetwork(item) else { throw ProxyProtocolSourceError(item: String(item)) }
            sources.append(network)
        }
        return sources
    }

    /// Whether a connection whose real peer is `peer` (numeric address text, as the socket gives it) may send a
    /// PROXY header: it lies in one of `sources`. No address (a Unix socket) or an unparseable one is not trusted.
    static func trustsProxyProtocol(from peer: String?, sources: [IPNetwork]) -> Bool {
        guard let peer, let address = IPAddress(peer) else { return false }
        return sources.contains { $0.contains(address) }
    }
}
