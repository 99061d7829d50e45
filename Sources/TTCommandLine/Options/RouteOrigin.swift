import TTTransport

/// Where the one route of `check`, `ping`, `pipe` and `forward` came from, so that every failure names it
/// ("proxy http://…:3399 (from HTTPS_PROXY) refused the connection") and, when the user did not type the route,
/// points to `tt-connect doctor`, which tries all the others.
struct RouteOrigin: Sendable, Hashable {
    /// Who chose the route: "--proxy", "HTTPS_PROXY", "config file F [connection N]"; `nil` for a direct
    /// connection by default (nothing configured, `NO_PROXY`, a loopback target).
    var source: String?
    /// The proxy of a proxy route.
    var proxyURL: String?
    /// The PAC script of a PAC route.
    var pacLocation: String?
    /// Whether a failure ends with the doctor hint: the route was not typed on the command line (`--proxy`,
    /// `--proxy-pac`, `--no-proxy`, `--noproxy`) and the target is not on this machine.
    var offersDoctor: Bool

    /// Said after a failure whose route did not come from the command line.
    static let doctorHint = "run `tt-connect doctor` to try every route this machine offers"

    /// The origin of a resolved decision for `target`.
    init(decision: ProxyDecision, flagName: String?, target: Endpoint) {
        switch decision.source {
        case .commandLine?: source = flagName ?? "the command line"
        case .configFile(let path, let connection)?: source = "config file \(path) [connection \(connection)]"
        case .environment(let variable)?: source = variable
        case nil: source = nil
        }
        proxyURL = decision.proxy?.url
        pacLocation = decision.autoConfig?.pac.source
        // A server on this machine is reached directly whatever the settings say: no other route to offer.
        let loopback = !NoProxyMatcher("").usesProxy(host: target.host, port: target.port)
        offersDoctor = decision.source != .commandLine && !(decision.source == nil && loopback)
    }

    init(source: String?, proxyURL: String? = nil, pacLocation: String? = nil, offersDoctor: Bool) {
        self.source = source
        self.proxyURL = proxyURL
        self.pacLocation = pacLocation
        self.offersDoctor = offersDoctor
    }

    /// `message` naming the route's source, ending with the doctor hint unless the command line chose it.
    func named(_ message: String) -> String {
        let text = sourced(message)
        return offersDoctor ? "\(text); \(Self.doctorHint)" : text
    }

    /// `message` naming the route's source, without the hint: for lines that repeat (`ping`'s lost replies),
    /// whose hint is said once.
    func sourced(_ message: String) -> String {
        guard let source, let location = proxyURL ?? pacLocation else { return message }
        // Where the message names the proxy or PAC, the source follows it; otherwise it is said at the end.
        guard let range = message.firstRange(of: location) else {
            return message + " (\(proxyURL != nil ? "proxy" : "PAC") \(location) from \(source))"
        }
        var text = message
        text.replaceSubrange(range, with: "\(location) (from \(source))")
        return text
    }
}
