import FoundationEssentials
public import Glibc

/// Where tt-server keeps its identity key when `--identity` is not given (docs/SERVER.md, "Identity").
///
/// Never the current directory: a server started from a different directory would silently make a new key, and
/// every client that pinned the old one would refuse it. In order:
/// 1. `$STATE_DIRECTORY/identity.pem`: systemd's `StateDirectory=` (the first entry, if it lists several);
/// 2. for root, `/var/lib/tt-server/identity.pem`;
/// 3. otherwise `$XDG_STATE_HOME/tt-server/identity.pem`, with `~/.local/state` when that is unset, as the XDG
///    base directory specification says.
public enum IdentityLocation {
    /// The file name inside the state directory.
    public static let fileName = "identity.pem"
    /// What the default was before: a file of that name in the current directory is still found, with a warning.
    public static let legacyPath = "tt-server-identity.pem"

    /// The default identity path for a process with `environment` and user id `userID`; `nil` when none can be
    /// told (no `HOME` for a user other than root).
    public static func defaultPath(environment: [String: String], userID: uid_t) -> String? {
        if let state = environment["STATE_DIRECTORY"]?.split(separator: ":").first, state.hasPrefix("/") {
            return "\(state)/\(fileName)"
        }
        if userID == 0 { return "/var/lib/tt-server/\(fileName)" }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return "\(xdg)/tt-server/\(fileName)"
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return "\(home)/.local/state/tt-server/\(fileName)"
        }
        return nil
    }

    /// Creates the directory of `path` (and its parents) with mode 0700 when it does not exist yet: the key
    /// must not sit in a directory others may list or write.
    public static func createDirectory(of path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard !FileManager.default.fileExists(atPath: directory) else { return }
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
    }
}
