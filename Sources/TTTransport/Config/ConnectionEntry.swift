/// One `[connection NAME]` section of a config file: where a named connection goes and how.
public struct ConnectionEntry: Sendable, Hashable {
    public var name: String
    public var server: String?
    public var port: Int?
    /// `user = NAME`: the user to log in as when `-S` gives none (its password from `password-file`).
    public var user: String?
    /// The proxy, parsed from `proxy = [http[s]://][USER:PASS@]HOST[:PORT]`.
    public var proxy: HTTPProxy?
    public var proxyAuth: ProxyAuthScheme?
    public var proxyCredentials: ProxyCredentials?
    /// `proxy-auth-no-basic = yes`: never send the proxy password as Basic over plain `http://`
    /// (``HTTPProxy/forbidsBasicInClear``); `nil` when the key is absent.
    public var proxyAuthNoBasic: Bool?
    /// The pinned server identity, `SHA256:…`.
    public var serverKey: String?
    /// `proxy-pac = FILE|URL`: a proxy auto-configuration script, used when `proxy` is not set.
    public var proxyPac: String?
    /// `password-file = FILE`: the logon password, for `-S USER@…` without one (read by the command line, never by this module).
    public var passwordFile: String?
    /// `proxy-password-file = FILE`: the proxy password, for a proxy user without one (read by the command line, never by this module).
    public var proxyPasswordFile: String?
    /// `tls = auto|always|never`: TLS with the server (``TLSMode``).
    public var tls: TLSMode?

    public init(name: String) {
        self.name = name
    }
}
