package import ArgumentParser
import FoundationEssentials
import Logging
import TTBasics
import TTClient
import TTCommandSupport
import TTTransport

/// The proxy flags every tool shares, and the config file naming a connection.
package struct ProxyOptions: ParsableArguments, Sendable {
    @Option(
        name: [.customShort("x"), .long],
        help: ArgumentHelp(
            "HTTP CONNECT proxy (default port 3128); overrides the config file and HTTPS_PROXY/ALL_PROXY.",
            valueName: "[http[s]://][USER:PASS@]HOST[:PORT]"
        )
    )
    package var proxy: String?

    @Option(
        name: [.customShort("U"), .long],
        help: ArgumentHelp(
            "Proxy credentials; without :PASS the password comes from TT_PROXY_PASSWORD, the config file's "
                + "proxy-password-file, or the terminal. ':' alone: Kerberos ticket only (as curl).",
            valueName: "USER[:PASS]"
        )
    )
    package var proxyUser: String?

    @Option(
        help: ArgumentHelp(
            "Proxy authentication scheme: any, basic, digest, ntlm or negotiate (default: any, or the config file's).",
            valueName: "SCHEME"
        )
    )
    package var proxyAuth: String?

    /// curl's spellings of `--proxy-auth SCHEME`.
    @Flag(help: "Same as --proxy-auth any (curl's flag).")
    package var proxyAnyauth = false
    @Flag(help: "Same as --proxy-auth basic.")
    package var proxyBasic = false
    @Flag(help: "Same as --proxy-auth digest.")
    package var proxyDigest = false
    @Flag(help: "Same as --proxy-auth ntlm.")
    package var proxyNtlm = false
    @Flag(help: "Same as --proxy-auth negotiate.")
    package var proxyNegotiate = false

    @Option(
        help: ArgumentHelp(
            "Proxy auto-configuration script (file or http(s):// URL); below --proxy, above the config file.",
            valueName: "FILE|URL"
        )
    )
    package var proxyPac: String?

    @Option(help: ArgumentHelp("Extra header for the CONNECT request; repeatable.", valueName: "'Name: value'"))
    package var proxyHeader: [String] = []

    @Option(help: ArgumentHelp("CA bundle (PEM) to verify an https:// proxy with.", valueName: "FILE"))
    package var proxyCacert: String?

    @Flag(help: "Do not verify an https:// proxy's certificate.")
    package var proxyInsecure = false

    @Flag(help: "Connect directly, whatever the config file or environment say.")
    package var noProxy = false

    @Option(
        name: .customLong("noproxy"),
        help: ArgumentHelp(
            "Hosts to reach directly, as curl's --noproxy: a comma list of names (with their subdomains), IP "
                + "addresses and CIDR blocks; * for all.",
            valueName: "LIST"
        )
    )
    package var noProxyList: String?

    @Option(
        help: ArgumentHelp(
            "Config file with [connection NAME] sections (default: ~/.config/tt-connect/config).",
            valueName: "FILE"
        )
    )
    package var config: String?

    @Option(help: ArgumentHelp("The connection of the config file to use.", valueName: "NAME"))
    package var connection: String?

    package init() {}

    package func validate() throws {
        if let proxy {
            do { _ = try HTTPProxy(parsing: proxy) } catch { throw ValidationError("--proxy: \(error)") }
            if noProxy { throw ValidationError("--proxy and --no-proxy contradict each other; give one") }
        }
        if proxyPac != nil, noProxy {
            throw ValidationError("--proxy-pac and --no-proxy contradict each other; give one")
        }
        if let proxyAuth, ProxyAuthScheme(parsing: proxyAuth) == nil {
            // Never echo the value: a user who typed --proxy-auth alice:secret put a password there.
            throw ValidationError(
                "--proxy-auth must be any, basic, digest, ntlm or negotiate (the value given is none of them)"
            )
        }
        if schemeFlags.count > 1 || (proxyAuth != nil && !schemeFlags.isEmpty) {
            throw ValidationError(
                "give one proxy authentication scheme: --proxy-auth SCHEME or one of --proxy-anyauth, --proxy-basic, "
                    + "--proxy-digest, --proxy-ntlm, --proxy-negotiate"
            )
        }
        // ":" alone is curl's idiom for "no user name: use the Kerberos ticket".
        if let proxyUser, proxyUser != ":", proxyUser.isEmpty || proxyUser.hasPrefix(":") {
            throw ValidationError("--proxy-user needs a user name: USER[:PASS]")
        }
        for header in proxyHeader {
            guard let colon = header.firstIndex(of: ":"), colon != header.startIndex,
                !header[..<colon].contains(where: \.isWhitespace), !header.contains(where: \.isNewline)
            else {
                // The value may be a token: never echo it.
                throw ValidationError("--proxy-header must be 'Name: value' on one line (the value given is not)")
            }
        }
        if let proxyCacert, !FileManager.default.isReadableFile(atPath: proxyCacert) {
            throw ValidationError("--proxy-cacert: cannot read \(proxyCacert)")
        }
    }

    /// The config file entry named by `--connection` (read from `--config`, or the default config file).
    /// - Throws: ``CommandFailure`` (usage) for an unreadable file or a missing entry.
    func loadEntry() throws(CommandFailure) -> (entry: ConnectionEntry, path: String)? {
        guard let connection else { return nil }
        let path = config ?? Self.defaultConfigPath
        do {
            let file = try ConnectionConfigFile.load(path: path)
            return (try file.entry(named: connection), path)
        } catch {
            throw .usage("\(error)")
        }
    }

    /// `~/.config/tt-connect/config`.
    static var defaultConfigPath: String {
        let home = FilePathText.homeDirectory(environment: ProcessInfo.processInfo.environment)
        return FilePathText.join(home, ".config/tt-connect/config")
    }

    /// Decides the route to `target`: flags, then the config entry, then the environment (`NO_PROXY`, and
    /// never for loopback). Prompts for a missing `--proxy-user` password on a terminal.
    /// - Throws: ``CommandFailure`` (usage) before any network work.
    func resolveRoute(
        to target: Endpoint,
        entry: (entry: ConnectionEntry, path: String)?,
        environment: [String: String],
        options: HTTPProxyOptions,
        timeout: Duration? = nil
    ) throws(CommandFailure) -> (route: Route, reason: String, origin: RouteOrigin) {
        var flags = ProxyFlags(
            proxy: proxy,
            proxyAuth: authScheme,
            noProxy: noProxy
        )
        if let noProxyList, CurlNoProxyList(noProxyList).matches(target) {
            warnUnusedProxyUser("--noproxy matches \(target)")
            return (
                .direct, "direct connection: --noproxy matches \(target)",
                RouteOrigin(source: "--noproxy", offersDoctor: false)
            )
        }
        flags.proxyPac = proxyPac
        flags.pacTimeout = timeout
        // `USER` alone leaves the password empty here; ProxyPasswordSource fills it once a proxy is chosen.
        // `:` is an empty user: Kerberos only, no password scheme.
        flags.proxyUser = proxyUser.map(ProxyCredentials.init(parsing:))
        var decision: ProxyDecision
        do {
            decision = try ProxyConfiguration.resolve(
                target: target,
                flags: flags,
                entry: entry?.entry,
                configPath: entry?.path ?? "config file",
                environment: environment
            )
        } catch  where error.category == .configuration {
            throw .usage("\(error)")
        } catch {
            // A PAC URL that cannot be fetched is a network failure (exit 3), not a usage error. It gets the doctor
            // hint even when typed: the URL the user knew does not answer, and the doctor reads the URLs the
            // desktop and the browsers publish.
            let origin = RouteOrigin(
                source: proxyPac != nil ? "--proxy-pac" : entry.map { "config file \($0.path)" },
                pacLocation: (proxyPac ?? entry?.entry.proxyPac).map { ProxyAutoConfig.redacted(location: $0) },
                offersDoctor: true
            )
            throw CommandFailure(exitCode: CommandFailure(error).exitCode, message: origin.named(error.message))
        }
        decision = try ProxyPasswordSource.complete(
            decision,
            flagUser: proxyUser,
            entry: entry?.entry,
            environment: environment
        )
        let origin =
            noProxy
            ? RouteOrigin(source: "--no-proxy", offersDoctor: false)
            : RouteOrigin(decision: decision, flagName: proxy != nil ? "--proxy" : "--proxy-pac", target: target)
        if let pac = decision.autoConfig { return (.autoConfigured(pac, options), decision.reason, origin) }
        guard let chosen = decision.proxy else {
            let why = noProxy ? "--no-proxy" : decision.reason
            warnUnusedProxyUser(why)
            return (.direct, "direct connection: \(why)", origin)
        }
        return (.proxy(chosen, options), "proxy \(chosen.url): \(decision.reason)", origin)
    }

    /// `-U` given for a connection that uses no proxy is a mistake worth a word, not silence.
    private func warnUnusedProxyUser(_ why: String) {
        guard let proxyUser else { return }
        let user = proxyUser.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        Console.error(
            "warning: --proxy-user \(user) is not used: the connection is direct (\(why)); give --proxy to use a proxy"
        )
    }

    /// The scheme from `--proxy-auth` or one of curl's `--proxy-basic`… flags.
    var authScheme: ProxyAuthScheme? {
        proxyAuth.flatMap(ProxyAuthScheme.init(parsing:)) ?? schemeFlags.first
    }

    private var schemeFlags: [ProxyAuthScheme] {
        let flags: [(given: Bool, scheme: ProxyAuthScheme)] = [
            (proxyAnyauth, .any), (proxyBasic, .basic), (proxyDigest, .digest), (proxyNtlm, .ntlm),
            (proxyNegotiate, .negotiate),
        ]
        return flags.filter(\.given).map(\.scheme)
    }

    /// The CONNECT options from the flags.
    /// `verbosity` 1 (`-v`) shows the CONNECT heads on standard error, 2 (`-vv`) libcurl's trace too.
    func httpOptions(logger: Logger? = nil, verbosity: Int = 0) -> HTTPProxyOptions {
        var options = HTTPProxyOptions(
            extraHeaders: proxyHeader,
            proxyCAFile: proxyCacert,
            proxyInsecure: proxyInsecure
        )
        if let logger { options.logger = logger }
        if verbosity > 0 {
            options.exchangeTrace = ConnectExchangeTrace(level: verbosity > 1 ? .full : .heads) { Console.error($0) }
        }
        return options
    }
}
