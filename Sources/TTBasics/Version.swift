/// The version of tt-connect, sent in the proxy `User-Agent` and printed by every tool's `--version`.
///
/// The one place the version is kept: `scripts/package` reads it from here for the Debian package's version.
public enum TTConnectVersion {
    public static let current = "0.1.0"
}
