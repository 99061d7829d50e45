import Glibc

/// Path arithmetic on plain strings, as the tools need it: the home directory, joining, the parent directory.
///
/// Full Foundation's `NSString` path methods would pull its ICU data (about 45 MB) into every static binary, and
/// `FoundationEssentials` has no string path helpers; these cover what the tools use and nothing more.
public enum FilePathText {
    /// `$HOME` from `environment` when set, else the home directory of the user in the password database, else `/`.
    public static func homeDirectory(environment: [String: String]) -> String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        if let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { return String(cString: directory) }
        return "/"
    }

    /// `component` appended to `base` with exactly one `/` between them; `base` alone when `component` is empty,
    /// `component` alone when `base` is empty.
    public static func join(_ base: String, _ component: String) -> String {
        if base.isEmpty { return component }
        if component.isEmpty { return base }
        let head = base.hasSuffix("/") ? String(base.dropLast(base.reversed().prefix { $0 == "/" }.count)) : base
        let tail = component.drop { $0 == "/" }
        return head + "/" + tail
    }

    /// The directory part of `path`: `a/b` for `a/b/c`, `/` for `/c`, empty for a bare name such as `c`.
    /// Trailing slashes are not a component (`a/b/` → `a`).
    public static func directory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        var parent = trimmed[..<slash]
        while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }
}
