public import ArgumentParser
import Foundation
import Logging
import TTClient
import TTCommandSupport
import TTTransport

/// The proxy flags every tool shares, and the config file naming a connection.
public struct ProxyOptions: ParsableArguments, Sendable {
    @Option(
        help: ArgumentHelp(
            "HTTP CONNECT proxy (default port 3128); overrides the config file and HTTPS_PROXY/ALL_PROXY.",
            valueName: "[http[s]://][USER:PASS@]HOST[:PORT]"
        )
    )
    public var proxy: String?

    @Option(
        help: ArgumentHelp(
            "Proxy credentials; without :PASS the password is asked for on the terminal.",
            valueName: "USER[:PASS]"
        )
    )
    public var proxyUser: String?

    @Option(
        help: ArgumentHelp(
            "Proxy authentication scheme: any, basic, digest, ntlm or negotiate.",
            valueName: "SCHEME"
        )
    )
    public var proxyAuth: String?

    @Option(help: ArgumentHelp("Extra header for the CONNECT request; repeatable.", valueName: "'Name: value'"))
    public var proxyHeader: [String] = []

    @Option(help: ArgumentHelp("CA bundle (PEM) to verify an https:// proxy with.", valueName: "FILE"))
    public var proxyCacert: String?

    @Flag(help: "Do not verify an https:// proxy's certificate.")
    public var proxyInsecure = false

    @Flag(help: "Connect directly, whatever the config file or environment say.")
    public var noProxy = false

    @Option(help: ArgumentHelp("Config file with [connection NAME] sections.", valueName: "FILE"))
    public var config: String?

    @Option(help: ArgumentHelp("The connection of the config file to use.", valueName: "NAME"))
    public var connection: String?

    public init() {}

    public func validate() throws {
        if let proxy {
            do { _ = try HTTPProxy(parsing: proxy) } catch { throw ValidationError("--proxy: \(error)") }
            if noProxy { throw ValidationError("--proxy and --no-proxy contradict each other; give one") }
        }
        if let proxyAuth, ProxyAuthScheme(parsing: proxyAuth) == nil {
            throw ValidationError("--proxy-auth must be any, basic, digest, ntlm or negotiate, not '\(proxyAuth)'")
        }
        if let proxyUser, proxyUser.isEmpty || proxyUser.hasPrefix(":") {
            throw ValidationError("--proxy-user needs a user name: USER[:PASS]")
        }
        for header in proxyHeader {
            guard let colon = header.firstIndex(of: ":"), colon != header.startIndex,
                !header[..<colon].contains(where: \.isWhitespace), !header.contains(where: \.isNewline)
            else {
                throw ValidationError("--proxy-header '\(header)' must be 'Name: value' on one line")
            }
        }
        if let proxyCacert, !FileManager.default.isReadableFile(atPath: proxyCacert) {
            throw ValidationError("--proxy-cacert: cannot read \(proxyCacert)")
        }
        if config != nil, connection == nil {
            throw ValidationError("--config needs --connection NAME to say which connection to use")
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
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".config/tt-connect/config")
    }

    /// Decides the route to `target`: flags, then the config entry, then the environment (`NO_PROXY`, and
    /// never for loopback). Prompts for a missing `--proxy-user` password on a terminal.
    /// - Throws: ``CommandFailure`` (usage) before any network work.
    func resolveRoute(
        to target: Endpoint,
        entry: (entry: ConnectionEntry, path: String)?,
        environment: [String: String],
        options: HTTPProxyOptions
    ) throws(CommandFailure) -> (route: Route, reason: String) {
        var flags = ProxyFlags(
            proxy: proxy,
            proxyAuth: proxyAuth.flatMap(ProxyAuthScheme.init(parsing:)),
            noProxy: noProxy
        )
        if let proxyUser {
            if proxyUser.contains(":") {
                flags.proxyUser = ProxyCredentials(parsing: proxyUser)
            } else {
                let password = try PasswordPrompt.read(
                    prompt: "Proxy password for \(proxyUser): ",
                    hint: "--proxy-user \(proxyUser) has no password"
                )
                flags.proxyUser = ProxyCredentials(user: proxyUser, password: password)
            }
        }
        let decision: ProxyDecision
        do {
            decision = try ProxyConfiguration.resolve(
                target: target,
                flags: flags,
                entry: entry?.entry,
                configPath: entry?.path ?? "config file",
                environment: environment
            )
        } catch {
            throw .usage("\(error)")
        }
        guard let chosen = decision.proxy else {
            return (.direct, "direct connection: \(noProxy ? "--no-proxy" : decision.reason)")
        }
        return (.proxy(chosen, options), "proxy \(chosen.url): \(decision.reason)")
    }

    /// The CONNECT options from the flags.
    func httpOptions(logger: Logger? = nil) -> HTTPProxyOptions {
        var options = HTTPProxyOptions(
            extraHeaders: proxyHeader,
            proxyCAFile: proxyCacert,
            proxyInsecure: proxyInsecure
        )
        if let logger { options.logger = logger }
        return options
    }
}
