/// Where a resolved proxy setting came from, for `check` output and the API trace.
public enum ProxySource: Sendable, Hashable, CustomStringConvertible {
    case commandLine
    case configFile(path: String, connection: String)
    /// An environment variable, by name (`HTTPS_PROXY`, `all_proxy`, …).
    case environment(variable: String)

    public var description: String {
        switch self {
        case .commandLine: "command line"
        case .configFile(let path, let connection): "\(path) [connection \(connection)]"
        case .environment(let variable): "environment variable \(variable)"
        }
    }
}

/// The proxy options given on the command line.
public struct ProxyFlags: Sendable, Hashable {
    /// `--proxy [http[s]://][USER:PASS@]HOST[:PORT]`.
    public var proxy: String?
    /// `--proxy-user USER:PASS`: overrides credentials from any source.
    public var proxyUser: ProxyCredentials?
    /// `--proxy-auth SCHEME`.
    public var proxyAuth: ProxyAuthScheme?
    /// `--no-proxy`: connect directly, whatever the config file or environment say.
    public var noProxy: Bool
    /// `--proxy-pac FILE|URL`: a proxy auto-configuration script (below `--proxy`, above the config file).
    public var proxyPac: String?
    /// How long fetching and evaluating a PAC script may take (`--timeout`); 15 s when `nil`.
    public var pacTimeout: Duration?

    public init(
        proxy: String? = nil,
        proxyUser: ProxyCredentials? = nil,
        proxyAuth: ProxyAuthScheme? = nil,
        noProxy: Bool = false
    ) {
        self.proxy = proxy
        self.proxyUser = proxyUser
        self.proxyAuth = proxyAuth
        self.noProxy = noProxy
    }
}

/// The outcome of proxy resolution: a proxy and where it came from, or a direct connection and why.
public struct ProxyDecision: Sendable, Hashable {
    /// The proxy to use, `nil` to connect directly.
    public var proxy: HTTPProxy?
    /// Where the proxy came from (`nil` when direct).
    public var source: ProxySource?
    /// Why: "no proxy asked for", "NO_PROXY matches", "loopback target", "no proxy configured", or the source.
    public var reason: String
    /// The PAC script's answer to try in order, when a PAC decided (then ``proxy`` is `nil`).
    public var autoConfig: ProxyAutoConfigRoute?
}

/// Decides whether and through which proxy to reach a target.
///
/// Highest first: command-line flags (`--proxy`, then `--proxy-pac`), the connection's config-file entry
/// (`proxy`, then `proxy-pac`), the environment
/// (`HTTPS_PROXY`/`https_proxy`, then `ALL_PROXY`/`all_proxy`). `NO_PROXY`/`no_proxy` (read by
/// ``NoProxyMatcher``) and the loopback rule apply to environment proxies only: a proxy named on the
/// command line or in the config file was asked for explicitly and always applies.
public enum ProxyConfiguration {
    /// Resolves the proxy for `target`.
    /// - Parameters:
    ///   - target: the framework server to reach.
    ///   - flags: the explicitly given settings (highest precedence).
    ///   - entry: the connection's config-file entry, if any.
    ///   - configPath: the config file's path, to name it as the source.
    ///   - environment: the process environment (a parameter so tests need not mutate the real one).
    /// - Throws: ``TransportError`` ``TransportError/Category/configuration`` for an invalid proxy URL, naming
    ///   where it came from.
    public static func resolve(
        target: Endpoint,
        flags: ProxyFlags,
        entry: ConnectionEntry? = nil,
        configPath: String = "config file",
        environment: [String: String]
    ) throws(TransportError) -> ProxyDecision {
        if flags.noProxy {
            // The library names the setting, not a flag; the command line says which flag set it.
            return ProxyDecision(proxy: nil, source: nil, reason: "no proxy asked for")
        }
        var chosen: (proxy: HTTPProxy, source: ProxySource)?
        if let text = flags.proxy {
            chosen = (try parse(text, from: "the proxy given"), .commandLine)
        } else if let location = flags.proxyPac {
            return try autoConfigured(location, .commandLine, target: target, flags: flags, entry: entry)
        } else if let entry, let proxy = entry.proxy {
            chosen = (proxy, .configFile(path: configPath, connection: entry.name))
        } else if let entry, let location = entry.proxyPac {
            let source = ProxySource.configFile(path: configPath, connection: entry.name)
            return try autoConfigured(location, source, target: target, flags: flags, entry: entry)
        } else if let (variable, value) = firstSet(
            ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"],
            environment
        ) {
            let noProxy = firstSet(["NO_PROXY", "no_proxy"], environment)?.value ?? ""
            if !NoProxyMatcher(noProxy).usesProxy(host: target.host, port: target.port) {
                let loopback = !NoProxyMatcher("").usesProxy(host: target.host, port: target.port)
                return ProxyDecision(
                    proxy: nil,
                    source: nil,
                    reason: loopback
                        ? "loopback target \(target) (environment proxies never apply)" : "NO_PROXY matches \(target)"
                )
            }
            chosen = (try parse(value, from: "environment variable \(variable)"), .environment(variable: variable))
        }
        guard let chosen else {
            return ProxyDecision(proxy: nil, source: nil, reason: "no proxy configured")
        }
        var proxy = chosen.proxy
        let source = chosen.source
        if let credentials = flags.proxyUser {
            proxy.credentials = credentials
        } else if proxy.credentials == nil, let credentials = entry?.proxyCredentials {
            proxy.credentials = credentials
        }
        if let scheme = flags.proxyAuth ?? entry?.proxyAuth {
            proxy.authScheme = scheme
        }
        if entry?.proxyAuthNoBasic == true { proxy.forbidsBasicInClear = true }
        return ProxyDecision(proxy: proxy, source: source, reason: "proxy from \(source)")
    }

    /// A decision by the PAC script at `location`, fetched and evaluated now so a bad script is a usage error
    /// before any connection.
    private static func autoConfigured(
        _ location: String,
        _ source: ProxySource,
        target: Endpoint,
        flags: ProxyFlags,
        entry: ConnectionEntry?
    ) throws(TransportError) -> ProxyDecision {
        let pac: ProxyAutoConfig
        do {
            pac = try ProxyAutoConfig.resolve(
                location: location,
                target: target,
                deadline: .after(flags.pacTimeout ?? .seconds(15))
            )
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError.configuration("PAC file \(ProxyAutoConfig.redacted(location: location)): \(error)")
        }
        let route = ProxyAutoConfigRoute(
            pac: pac,
            credentials: flags.proxyUser ?? entry?.proxyCredentials,
            authScheme: flags.proxyAuth ?? entry?.proxyAuth ?? .any,
            forbidsBasicInClear: entry?.proxyAuthNoBasic == true
        )
        let skipped = pac.skipped.isEmpty ? "" : " (left out: \(pac.skipped.joined(separator: "; ")))"
        return ProxyDecision(
            proxy: nil,
            source: source,
            reason: "PAC file \(pac.source) from \(source) answers \"\(pac.answer)\" for \(target)\(skipped)",
            autoConfig: route
        )
    }

    private static func parse(_ text: String, from origin: String) throws(TransportError) -> HTTPProxy {
        do {
            return try HTTPProxy(parsing: text)
        } catch {
            throw TransportError.configuration("\(origin): \(error.message)")
        }
    }

    /// The first of `names` set to a non-empty value (Go skips empty variables the same way).
    private static func firstSet(
        _ names: [String],
        _ environment: [String: String]
    ) -> (
        variable: String, value: String
    )? {
        for name in names {
            if let value = environment[name], !value.isEmpty { return (name, value) }
        }
        return nil
    }
}
