/// A hint for a word that was meant as a flag but became check's server name (`tt-connect version`).
enum TypoHint {
    /// Words users type for a flag, and the flag they meant.
    private static let flags: [String: String] = [
        "version": "--version", "help": "--help", "json": "--json", "verbose": "-v", "usage": "--help",
        "-version": "--version", "-help": "--help", "h": "--help", "v": "-v",
    ]

    /// `did you mean --version?` for `version`; `nil` for anything that looks like a real server name.
    static func hint(forTarget target: String?) -> String? {
        guard let target, let flag = flags[target.lowercased()] else { return nil }
        return "'\(target)' was taken as the server name; did you mean \(flag)?"
    }
}
