import TTTransport

/// One way out to the server that the doctor tries: a proxy or a direct connection, with every source that
/// names it (the same proxy from two places is one candidate).
struct RouteCandidate: Sendable {
    /// How the candidate reaches the server.
    enum Way: Sendable {
        /// A direct TCP connection.
        case direct
        /// A tunnel through this proxy (credentials and scheme from the flags or the config entry).
        case proxy(HTTPProxy)
        /// A setting that names no usable route (a PAC URL that cannot be fetched, a malformed proxy): a row
        /// that failed before any connection, with the exit code `check` would give it.
        case unusable(exitCode: Int32, stage: String, message: String)
    }

    /// How the candidate reaches the server.
    var way: Way
    /// Who names it, in the order found: "command line", "HTTPS_PROXY", "Firefox's autoconfig URL (…)", …
    var sources: [String]
    /// For an entry of a PAC answer: "PAC entry 2 of 2 from Firefox's autoconfig URL (…) http://…".
    var pacEntry: String?
    /// Whether `check` with the same options would use this route: it is recommended first when it works.
    var isConfigured: Bool

    init(way: Way, sources: [String], pacEntry: String? = nil, isConfigured: Bool = false) {
        self.way = way
        self.sources = sources
        self.pacEntry = pacEntry
        self.isConfigured = isConfigured
    }

    /// The proxy URL (`http://host:port`), or `nil` for a direct or unusable route.
    var proxyURL: String? {
        if case .proxy(let proxy) = way { return proxy.url }
        return nil
    }

    /// What makes two candidates the same route: the proxy's URL, `direct`, or (never merged) the failure.
    var key: String {
        switch way {
        case .direct: "direct"
        case .proxy(let proxy): proxy.url
        case .unusable(_, _, let message): "unusable \(sources.first ?? "") \(message)"
        }
    }

    /// The proxy, or "direct" (or "none" for an unusable setting), as a row shows it.
    var routeText: String {
        switch way {
        case .direct: "direct"
        case .proxy(let proxy): proxy.url
        case .unusable: "none"
        }
    }

    /// The sources joined for messages: "HTTPS_PROXY, apt Acquire::https::Proxy (/etc/apt/apt.conf)".
    var sourceText: String {
        var all = sources
        if let pacEntry, !all.contains(pacEntry) { all.append(pacEntry) }
        return all.joined(separator: ", ")
    }
}
