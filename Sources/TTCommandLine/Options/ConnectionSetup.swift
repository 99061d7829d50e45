import FoundationEssentials
import Logging
import TTClient
import TTCommandSupport
import TTProtocol
import TTTransport

/// Everything a tool resolved from its flags before touching the network.
struct ConnectionPlan: Sendable {
    /// The client configuration (server, route, credentials, identity policy, deadlines).
    var configuration: ClientConfiguration
    /// Why the route is what it is ("proxy http://…: proxy from command line", "direct connection: …").
    var routeReason: String
    /// Who chose the route, for failure messages.
    var origin: RouteOrigin
}

/// Turns the shared option groups into a ``ConnectionPlan``: the target, the route (through
/// ``ProxyConfiguration``), credentials and the identity policy. Every failure is a usage error (exit 2) and
/// happens before any network work.
enum ConnectionSetup {
    /// - Parameters:
    ///   - target: the `HOST[:PORT]` argument, when given.
    ///   - defaultPort: the port when `target` has none (tt-ping's `-P`), else the logon string's or 5000.
    ///   - server: `-S`, `--server-key`, … (`nil` for tt-ping: no login).
    ///   - pinning: tt-ping's `--server-key` and `--known-servers`: the identity is checked as check does it.
    ///   - savesConnection: `--save-connection` names the entry to write, so `--config` alone is the file to
    ///     write it to rather than a file to read one from.
    static func plan(
        target: String?,
        defaultPort: Int? = nil,
        proxy: ProxyOptions,
        server: ServerOptions?,
        verbose: Bool,
        verbosity: Int? = nil,
        reconnect: ReconnectPolicy,
        requestTimeout: Duration? = nil,
        tls: TLSOptions,
        pinning: (serverKey: String?, knownServers: String?)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        savesConnection: Bool = false
    ) throws(CommandFailure) -> ConnectionPlan {
        if proxy.config != nil, proxy.connection == nil, !savesConnection {
            throw .usage("--config needs --connection NAME to say which connection to use")
        }
        let entry = try proxy.loadEntry()
        var logon = server?.logonString
        let endpoint: Endpoint
        if let target {
            let port = defaultPort ?? logon?.port ?? entry?.entry.port ?? LogonString.defaultPort
            do {
                endpoint = try Endpoint(parsing: target, defaultPort: port)
            } catch {
                throw .usage("server address: \(TunnelOpener.addressProblem(target, error))")
            }
        } else if let logon, server?.logonNamesServer == true {
            endpoint = Endpoint(host: logon.server, port: logon.port)
        } else if let host = entry?.entry.server {
            endpoint = Endpoint(host: host, port: entry?.entry.port ?? LogonString.defaultPort)
        } else {
            endpoint = Endpoint(host: LogonString.defaultServer, port: logon?.port ?? LogonString.defaultPort)
        }

        // The entry's `user` logs in (tools that log in only) when -S names none; its password comes below.
        if logon == nil, server != nil, let user = entry?.entry.user {
            logon = LogonString(user: user, password: nil, server: endpoint.host, port: endpoint.port)
        }

        let logger = verbose ? verboseLogger() : nil
        // Nanoseconds: --timeout 0.0001 must stay 0.1 ms, not round to nothing.
        let timeout = Duration.nanoseconds(Int64(((server?.timeout ?? 10) * 1e9).rounded()))
        let (route, reason, origin) = try proxy.resolveRoute(
            to: endpoint,
            entry: entry,
            environment: environment,
            options: proxy.httpOptions(logger: logger, verbosity: verbosity ?? (verbose ? 1 : 0)),
            timeout: timeout
        )

        var credentials: Credentials?
        if let logon {
            var password = logon.password
            // Off the command line first (cron, CI, services): the environment, then the config file's file.
            if password == nil, let value = environment["TT_PASSWORD"], !value.isEmpty {
                password = value
            }
            if password == nil, let file = entry?.entry.passwordFile {
                do {
                    password = try SecretFile.readPassword(file, what: "password file")
                } catch {
                    throw .usage("\(error)")
                }
            }
            if password == nil {
                password = try PasswordPrompt.read(
                    prompt: "Password for \(logon.user)@\(endpoint): ",
                    hint: "-S gives user \(logon.user) but no password (set TT_PASSWORD, name a password-file in "
                        + "the config file, or write user:password@server:port)"
                )
            }
            credentials = Credentials(user: logon.user, password: password ?? "")
        }

        let identity: IdentityPolicy
        if let key = server?.serverKey ?? pinning?.serverKey ?? entry?.entry.serverKey {
            do {
                identity = .pinned(try IdentityFingerprint(parsing: key))
            } catch {
                throw .usage("server key '\(key)' is not a SHA256:… fingerprint: \(error)")
            }
        } else if server != nil || pinning != nil {
            let path = server?.knownServers ?? pinning?.knownServers ?? KnownServers.defaultPath
            identity = .trustOnFirstUse(KnownServers(path: path))
        } else {
            identity = .acceptAny
        }

        let configuration = ClientConfiguration(
            server: endpoint,
            route: route,
            credentials: credentials,
            identity: identity,
            connectTimeout: timeout,
            requestTimeout: requestTimeout ?? timeout,
            reconnect: reconnect,
            tls: tls.options(entry: entry?.entry)
        )
        return ConnectionPlan(configuration: configuration, routeReason: reason, origin: origin)
    }

    /// Debug logging of the transport on standard error (`-v`); the transport never logs a credential.
    static func verboseLogger() -> Logger {
        var logger = Logger(label: "tt-connect", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .debug
        return logger
    }
}
