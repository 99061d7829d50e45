/// The version of tt-connect, sent in the proxy `User-Agent` and printed by `--version`.
public enum TTConnectVersion {
    public static let current = "0.1.0"
}
