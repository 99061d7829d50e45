import TTCommandSupport
import TTTransport

/// Where a proxy password comes from when the proxy user was given without one, so it need not be on the
/// command line (where `ps` shows it): the environment variable `TT_PROXY_PASSWORD`, then the config file's
/// `proxy-password-file`, then the terminal (only when `--proxy-user USER` itself asked, as before).
///
/// An empty password counts as none. An empty user (`--proxy-user :`) needs no password: Kerberos only.
enum ProxyPasswordSource {
    /// The environment variable holding the proxy password.
    static let variable = "TT_PROXY_PASSWORD"

    /// `decision` with the password of its proxy's (or PAC route's) user filled in.
    /// - Parameter flagUser: the raw `--proxy-user` value (a prompt is only for `--proxy-user USER`).
    /// - Throws: ``CommandFailure`` (usage) for an unusable password file or a prompt without a terminal.
    static func complete(
        _ decision: ProxyDecision,
        flagUser: String?,
        entry: ConnectionEntry?,
        environment: [String: String]
    ) throws(CommandFailure) -> ProxyDecision {
        var decision = decision
        if var proxy = decision.proxy, let credentials = proxy.credentials {
            proxy.credentials = try fill(credentials, flagUser: flagUser, entry: entry, environment: environment)
            decision.proxy = proxy
        }
        if var route = decision.autoConfig, let credentials = route.credentials {
            route.credentials = try fill(credentials, flagUser: flagUser, entry: entry, environment: environment)
            decision.autoConfig = route
        }
        return decision
    }

    static func fill(
        _ credentials: ProxyCredentials,
        flagUser: String?,
        entry: ConnectionEntry?,
        environment: [String: String]
    ) throws(CommandFailure) -> ProxyCredentials {
        guard !credentials.user.isEmpty, credentials.password.isEmpty else { return credentials }
        var filled = credentials
        if let password = environment[variable], !password.isEmpty {
            filled.password = password
        } else if let file = entry?.proxyPasswordFile {
            do {
                filled.password = try SecretFile.readPassword(file, what: "proxy password file")
            } catch {
                throw .usage("\(error)")
            }
        } else if let flagUser, !flagUser.contains(":") {
            filled.password = try PasswordPrompt.read(
                prompt: "Proxy password for \(credentials.user): ",
                hint: "--proxy-user \(credentials.user) has no password (set \(variable), or name a "
                    + "proxy-password-file in the config file)"
            )
        }
        return filled
    }
}
