import FoundationEssentials
import TTBasics
import TTClient
import TTCommandSupport
import TTTransport

/// The config entry for a route that worked (`--save-connection NAME`, `setup`): server, port, the route (proxy
/// or PAC, its scheme and user), TLS mode, the server key seen, and the login user.
///
/// Passwords never go into the config file. One that was used goes to its own private file beside it
/// (`NAME.password`, `NAME.proxy-password`) that the entry names, unless the file the entry already names holds
/// it: afterwards the entry works with nothing else, no environment and no terminal.
enum SavedConnection {
    /// - Parameters:
    ///   - configuration: what ran (its route, server, credentials and TLS mode are saved).
    ///   - serverKey: the key the server showed, pinned as `server-key`.
    ///   - previous: the entry of that name so far, if any: its password files are reused when they still hold
    ///     the password.
    static func entry(
        named name: String,
        configuration: ClientConfiguration,
        serverKey: String?,
        previous: ConnectionEntry?,
        configPath: String
    ) throws(CommandFailure) -> ConnectionEntry {
        var entry = ConnectionEntry(name: name)
        entry.server = configuration.server.host
        entry.port = configuration.server.port
        entry.tls = configuration.tls.mode
        entry.serverKey = serverKey
        var proxyCredentials: ProxyCredentials?
        switch configuration.route {
        case .direct:
            break
        case .proxy(let proxy, _):
            var bare = proxy
            bare.credentials = nil
            entry.proxy = bare
            entry.proxyAuth = proxy.authScheme == .any ? nil : proxy.authScheme
            entry.proxyAuthNoBasic = proxy.forbidsBasicInClear ? true : nil
            proxyCredentials = proxy.credentials
        case .autoConfigured(let route, _):
            let source = route.pac.location
            // A file named relative to the working directory must still be found from the config file.
            entry.proxyPac =
                source.contains("://") || source.hasPrefix("/")
                ? source : FilePathText.join(FileManager.default.currentDirectoryPath, source)
            entry.proxyAuth = route.authScheme == .any ? nil : route.authScheme
            entry.proxyAuthNoBasic = route.forbidsBasicInClear ? true : nil
            proxyCredentials = route.credentials
        }
        if let proxyCredentials {
            entry.proxyCredentials = ProxyCredentials(user: proxyCredentials.user, password: "")
            if !proxyCredentials.password.isEmpty {
                entry.proxyPasswordFile = try passwordFile(
                    proxyCredentials.password,
                    previous: previous?.proxyPasswordFile,
                    fileName: "\(name).proxy-password",
                    configPath: configPath
                )
            }
        }
        if let credentials = configuration.credentials {
            entry.user = credentials.user
            if !credentials.password.isEmpty {
                entry.passwordFile = try passwordFile(
                    credentials.password,
                    previous: previous?.passwordFile,
                    fileName: "\(name).password",
                    configPath: configPath
                )
            }
        }
        return entry
    }

    /// The file holding `password`: `previous` when it still does, else a new file beside the config file.
    private static func passwordFile(
        _ password: String,
        previous: String?,
        fileName: String,
        configPath: String
    ) throws(CommandFailure) -> String {
        if let previous, (try? SecretFile.readPassword(previous, what: "password file")) == password {
            return previous
        }
        return try ConnectionConfigWriter.storePassword(password, forFile: fileName, besideConfig: configPath)
    }

    /// Writes the entry for a successful `check` (or doctor route) and says where, on standard error when
    /// standard output carries JSON.
    static func save(
        named name: String,
        configuration: ClientConfiguration,
        serverKey: String?,
        configPath: String,
        quiet: Bool
    ) throws(CommandFailure) {
        let text = try ConnectionConfigWriter.currentText(of: configPath)
        let previous = try? ConnectionConfigFile(parsing: text, path: configPath).entry(named: name)
        let entry = try entry(
            named: name,
            configuration: configuration,
            serverKey: serverKey,
            previous: previous,
            configPath: configPath
        )
        try ConnectionConfigWriter.save(entry, to: configPath)
        let selection = configPath == ProxyOptions.defaultConfigPath ? "" : " --config \(configPath)"
        let message =
            "saved connection \(name) in \(configPath) (no password in it); use it with: tt-connect\(selection) "
            + "--connection \(name)"
        if quiet { Console.error(message) } else { Console.line(message) }
    }
}
