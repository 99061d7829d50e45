import TTBasics
import TTTransport

/// curl's `--noproxy LIST`: the hosts reached without the proxy, whatever gave the proxy (the command line too).
///
/// As curl reads it: a comma (or space) separated list; `*` alone matches every host; a name matches itself and
/// its subdomains (`example.com` matches `tapes.example.com`), a leading dot is ignored; an IP address matches
/// itself (IPv6 with or without brackets), and a CIDR block (`127.0.0.0/8`, `2001:db8::/32`) its addresses, as
/// curl 7.86 and later take it. Names compare without case. Unlike `NO_PROXY`, loopback targets are
/// not special: `--noproxy` lists exactly what goes direct.
struct CurlNoProxyList: Sendable, Hashable {
    private var matchesEverything = false
    private var names: [String] = []
    private var networks: [IPNetwork] = []

    init(_ list: String) {
        for rawEntry in list.split(whereSeparator: { $0 == "," || $0 == " " }) {
            var entry = rawEntry.trimmingWhitespace().lowercased()
            if entry == "*" {
                matchesEverything = true
                continue
            }
            if let network = IPNetwork(entry) {
                networks.append(network)
                continue
            }
            if entry.hasPrefix("["), entry.hasSuffix("]") { entry = String(entry.dropFirst().dropLast()) }
            while entry.hasPrefix(".") { entry.removeFirst() }
            if entry.hasSuffix(".") { entry.removeLast() }
            if !entry.isEmpty { names.append(entry) }
        }
    }

    /// Whether `target` is reached directly.
    func matches(_ target: Endpoint) -> Bool {
        if matchesEverything { return true }
        var host = target.host.lowercased()
        if host.hasSuffix(".") { host.removeLast() }
        if let address = IPAddress(host), networks.contains(where: { $0.contains(address) }) { return true }
        return names.contains { host == $0 || (!target.isIPv6 && host.hasSuffix("." + $0)) }
    }
}
