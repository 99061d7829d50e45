import TTBasics

/// Users and password hashes from an htpasswd-style file (`user:hash` per line, `#` comments).
///
/// See ``HtpasswdHash`` for the hash formats understood; an entry in any other format makes loading fail, so a
/// misconfigured proxy never starts with a user who can never log in.
public struct HtpasswdFile: Sendable {
    private let entries: [String: HtpasswdHash]
    /// Checked for unknown users, and after a wrong password for a user whose hash is cheaper: a hash of the
    /// file's slowest format and work factor (measured at load), so every refusal takes about as long as the
    /// slowest check and the answer time does not tell which names exist.
    let decoy: HtpasswdHash?

    /// The user names in the file.
    public var users: [String] { entries.keys.sorted() }

    /// Reads and parses the file at `path`: a regular file of at most 64 MiB.
    public init(contentsOf path: String) throws(HtpasswdError) {
        // Read no further than the bound, and only a regular file: a FIFO blocked the start for good, a device
        // (/dev/zero) was read until memory ran out.
        let file: FilePermissions.CheckedFile?
        do {
            file = try FilePermissions.readChecking(path, what: "the file", limit: 64 << 20)
        } catch {
            throw HtpasswdError(path: path, line: nil, message: error.description)
        }
        guard let file, let text = String(validating: file.bytes, as: UTF8.self) else {
            throw HtpasswdError(
                path: path,
                line: nil,
                message: "cannot read the file: \(SystemErrorText.readFailure(path))"
            )
        }
        try self.init(parsing: text, path: path)
    }

    /// Parses htpasswd text; `path` only names the source in errors.
    public init(parsing text: String, path: String = "<htpasswd>") throws(HtpasswdError) {
        var entries: [String: HtpasswdHash] = [:]
        var lineOfUser: [String: Int] = [:]
        for (offset, rawLine) in text.fileLines.enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw HtpasswdError(path: path, line: offset + 1, message: "expected user:hash")
            }
            let user = String(line[..<colon])
            let stored = line[line.index(after: colon)...]
            // Some tools append `:comment` fields; the hash itself never contains a colon.
            let hash = stored.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard let parsed = HtpasswdHash(String(hash)) else {
                throw HtpasswdError(
                    path: path,
                    line: offset + 1,
                    message: "user \(user): unsupported or malformed password hash, or a work factor above bcrypt "
                        + "cost 17 / 1,000,000 rounds; use htpasswd -B (bcrypt"
                        + (SystemCrypt.isAvailable ? "" : ", needs libcrypt, not found")
                        + "), -m ($apr1$) or -s ({SHA})"
                )
            }
            // Two lines give a user two passwords of which one works, and servers differ on which (Apache takes
            // the first): editing the line found first could leave the other password, maybe a revoked one, valid.
            if let first = lineOfUser[user] {
                throw HtpasswdError(
                    path: path,
                    line: offset + 1,
                    message: "user \(user) appears more than once (first on line \(first)); keep one line per user"
                )
            }
            lineOfUser[user] = offset + 1
            entries[user] = parsed
        }
        self.entries = entries
        self.decoy = Self.slowest(of: entries)
    }

    /// One hash of each format and work factor, timed against a password that cannot match; the slowest wins.
    /// Work factors are not comparable across formats by name (bcrypt cost vs. SHA-crypt rounds), so they are
    /// measured.
    private static func slowest(of entries: [String: HtpasswdHash]) -> HtpasswdHash? {
        let classes = Dictionary(grouping: entries.keys.sorted()) { entries[$0]!.costClass }
        let clock = ContinuousClock()
        let timed = classes.values.map { users -> (Duration, HtpasswdHash) in
            let hash = entries[users[0]]!
            return (clock.measure { _ = hash.matches("\u{1}not-a-password") }, hash)
        }
        return timed.max { $0.0 < $1.0 }?.1
    }

    /// Whether `user` exists and `password` matches its hash. bcrypt is slow by design: call it off event loops.
    public func verify(user: String, password: String) -> Bool {
        guard let hash = entries[user] else {
            // The result is thrown away: the decoy belongs to some real user, but the name given is not theirs.
            _ = decoy?.matches(password)
            return false
        }
        if hash.matches(password) { return true }
        // A cheap hash answers a wrong password fast, which would tell its user from an unknown one.
        if let decoy, decoy.costClass != hash.costClass { _ = decoy.matches(password) }
        return false
    }
}

/// An htpasswd file that cannot be used; says which file and line, never a password or hash.
public struct HtpasswdError: Error, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var message: String
    public var description: String {
        "auth file \(path)\(line.map { " line \($0)" } ?? ""): \(message)"
    }
}
