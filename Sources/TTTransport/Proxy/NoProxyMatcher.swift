import TTBasics

/// Decides whether a target bypasses an environment proxy, reading `NO_PROXY` exactly as Go's
/// `golang.org/x/net/http/httpproxy` does.
///
/// Entries are comma-separated: `*` (everything), `example.com` (the domain and its subdomains),
/// `.example.com` or `*.example.com` (subdomains only), an IP, a CIDR block, or any of these with `:port`
/// (`[v6]:port` for IPv6). Loopback targets (`localhost`, 127/8, `::1`) always bypass.
public struct NoProxyMatcher: Sendable, Hashable {
    /// A rule's port as the entry wrote it, compared as text with the target's decimal port, as Go does:
    /// `host:https` or `host:080` matches no port at all (not every port).
    private struct IPRule: Hashable {
        var address: IPAddress
        var port: String?
    }
    private struct DomainRule: Hashable {
        /// Always starts with `.`.
        var suffix: String
        var port: String?
        /// The entry had no leading `.`: the domain itself matches too.
        var matchesDomainItself: Bool
    }

    private var matchesEverything = false
    private var ipRules: [IPRule] = []
    private var networks: [IPNetwork] = []
    private var domainRules: [DomainRule] = []

    /// Parses a `NO_PROXY` value; malformed entries are ignored, as Go ignores them.
    public init(_ value: String) {
        for rawEntry in value.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = rawEntry.trimmingWhitespace().lowercased()
            if entry.isEmpty { continue }
            if entry == "*" {
                matchesEverything = true
                return
            }
            if let network = IPNetwork(entry) {
                networks.append(network)
                continue
            }
            var host = entry
            var port: String?
            if let split = Self.splitHostPort(entry) {
                guard !split.host.isEmpty else { continue }
                host = split.host
                port = split.port
            }
            if let address = IPAddress(host) {
                ipRules.append(IPRule(address: address, port: port))
                continue
            }
            if host.hasPrefix("*.") { host.removeFirst() }
            var matchesDomainItself = false
            if !host.hasPrefix(".") {
                matchesDomainItself = true
                host = "." + host
            }
            domainRules.append(DomainRule(suffix: host, port: port, matchesDomainItself: matchesDomainItself))
        }
    }

    /// Whether a connection to `host:port` should go through the proxy (`false` = go direct).
    public func usesProxy(host rawHost: String, port: Int) -> Bool {
        var host = rawHost.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { return false }
        let address = IPAddress(host)
        if let address, address.isLoopback { return false }
        if matchesEverything { return false }
        if let address {
            for rule in ipRules where rule.address == address && (rule.port == nil || rule.port == String(port)) {
                return false
            }
            if networks.contains(where: { $0.contains(address) }) { return false }
        }
        // Go and curl match names only against names: `.0.0.1` is no rule for 10.0.0.1.
        guard address == nil else { return true }
        for rule in domainRules where rule.port == nil || rule.port == String(port) {
            if host.hasSuffix(rule.suffix) || (rule.matchesDomainItself && host == rule.suffix.dropFirst()) {
                return false
            }
        }
        return true
    }

    /// Go's `net.SplitHostPort`: `host:port` or `[host]:port` (an empty port is none); nil when there is no port
    /// part.
    private static func splitHostPort(_ text: String) -> (host: String, port: String?)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let port = after.dropFirst()
            return (host, port.isEmpty ? nil : String(port))
        }
        guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else { return nil }
        let port = text[text.index(after: colon)...]
        return (String(text[..<colon]), port.isEmpty ? nil : String(port))
    }
}
