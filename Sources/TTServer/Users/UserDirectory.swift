import FoundationEssentials
import Glibc
import TTBasics
public import TTProtocol

/// The accounts Login checks, as kept in a users file: one `NAME:pbkdf2-sha256$<iterations>$<salt>$<hash>` line
/// per user; blank lines and lines starting with `#` are ignored (docs/SERVER.md).
public struct UserDirectory: Sendable {
    private var entries: [String: PasswordHash]
    /// The PBKDF2 work (``work(_:)``) of the costliest hash: what every failed check costs.
    private let failureWork: Int
    /// Whether the file has a `# empty` line: no users is meant, not a truncated file (``UserStore/reload(with:)``).
    public private(set) var declaresEmpty = false

    /// A directory with the given accounts.
    public init(_ entries: [String: PasswordHash] = [:]) {
        self.entries = entries
        failureWork = Self.costliestWork(in: entries)
    }

    /// The user names, sorted.
    public var userNames: [String] { entries.keys.sorted() }

    /// The stored hash of `user`, to compare two directories.
    func hash(of user: String) -> PasswordHash? { entries[user] }

    /// Whether `password` is the password of `user`.
    ///
    /// Every failed check costs as much as checking the costliest hash of the directory, whatever name it gave (an
    /// unknown one, or a user whose hash is cheaper), so the answer time tells neither which user names exist nor
    /// whose hash is cheap. Call it off the event loop: PBKDF2 is slow on purpose.
    public func verify(user: String, password: String) -> Bool {
        let hash = entries[user]
        if let hash, hash.verify(password) { return true }
        var remaining = failureWork - (hash.map(Self.work) ?? 0)
        // At most two rounds: the costliest hash is at most 2 × maxIterations of work.
        while remaining > 0 {
            let iterations = min(remaining, PasswordHash.maxIterations)
            _ = Self.decoy(iterations: iterations).verify(password)
            remaining -= iterations
        }
        return false
    }

    /// The PBKDF2 work of checking `hash`: its iterations, once per 32 bytes of output.
    private static func work(_ hash: PasswordHash) -> Int {
        hash.iterations * ((hash.hash.count + 31) / 32)
    }

    /// The work of the costliest of `entries`; with none, that of a new hash.
    private static func costliestWork(in entries: [String: PasswordHash]) -> Int {
        entries.values.map(work).max() ?? PasswordHash.defaultIterations
    }

    /// A 32-byte hash that no password matches in practice, checked only for the time it takes.
    private static func decoy(iterations: Int) -> PasswordHash {
        let zeroSalt = "AAAAAAAAAAAAAAAAAAAAAA=="
        let zeroHash = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        // A well-formed literal within the bounds; it cannot fail to parse.
        return try! PasswordHash(parsing: "pbkdf2-sha256$\(iterations)$\(zeroSalt)$\(zeroHash)")
    }

    /// Parses the text of a users file.
    /// - Parameter source: Names the file in errors.
    /// - Throws: ``UsersFileError`` naming the line and what is wrong with it (never the hash itself).
    public init(parsing text: String, source: String) throws(UsersFileError) {
        var entries: [String: PasswordHash] = [:]
        for (index, rawLine) in text.fileLines.enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line == "# empty" { declaresEmpty = true }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let lineNumber = index + 1
            guard let colon = line.firstIndex(of: ":") else {
                throw UsersFileError(path: source, line: lineNumber, problem: "expected NAME:pbkdf2-sha256$…")
            }
            let name = String(line[..<colon])
            if let problem = Self.problem(withName: name) {
                throw UsersFileError(path: source, line: lineNumber, problem: problem)
            }
            guard entries[name] == nil else {
                throw UsersFileError(path: source, line: lineNumber, problem: "user '\(name)' appears twice")
            }
            do {
                entries[name] = try PasswordHash(parsing: String(line[line.index(after: colon)...]))
            } catch {
                // The detail says what is too costly in a well-formed hash; it never holds the hash itself.
                let problem =
                    error.detail.map { "the password hash of '\(name)' would make every login too slow: \($0)" }
                    ?? "the password hash of '\(name)' is not pbkdf2-sha256$<iterations>$<salt>$<hash>"
                throw UsersFileError(
                    path: source,
                    line: lineNumber,
                    problem: problem + " (create entries with `tt-server add-user`)"
                )
            }
        }
        self.entries = entries
        failureWork = Self.costliestWork(in: entries)
    }

    /// Reads a users file, refusing one that other users can read or replace: the permissions are checked on the
    /// descriptor that is then read (``FilePermissions/readSecret(_:what:limit:)``).
    /// - Throws: ``UsersFileError`` when it cannot be read, is open to others, or does not parse.
    public static func load(path: String) throws(UsersFileError) -> UserDirectory {
        try UserDirectory(parsing: readText(path: path), source: path)
    }

    private static func readText(path: String) throws(UsersFileError) -> String {
        let bytes: [UInt8]?
        do {
            bytes = try FilePermissions.readSecret(path, what: "users file", limit: 64 << 20)
        } catch {
            throw UsersFileError(path: path, line: nil, problem: error.description)
        }
        guard let bytes else {
            throw UsersFileError(
                path: path,
                line: nil,
                problem: "cannot read the users file (\(SystemErrorText.readFailure(path)))"
            )
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Adds `user` to the users file at `path`, or replaces their password; creates the file (mode 0600) if
    /// it does not exist. Other lines, comments included, are kept; the file is replaced atomically.
    /// - Returns: `true` when the user was added, `false` when an existing entry was replaced.
    /// - Throws: ``UsersFileError`` for a bad name, an unreadable or invalid file, or a failed write.
    @discardableResult
    public static func addUser(
        _ user: String,
        password: String,
        toFileAt path: String,
        iterations: Int = PasswordHash.defaultIterations
    ) throws(UsersFileError) -> Bool {
        if let problem = problem(withName: user) {
            throw UsersFileError(path: path, line: nil, problem: problem)
        }
        var lines: [String] = []
        if FileManager.default.fileExists(atPath: path) {
            let text = try readText(path: path)
            // A file that does not parse is left alone rather than rewritten around its errors.
            _ = try UserDirectory(parsing: text, source: path)
            lines = text.fileLines.map(String.init)
            if lines.last == "" { lines.removeLast() }
        }
        let entry = "\(user):\(PasswordHash(hashing: password, iterations: iterations).encoded)"
        let index = lines.firstIndex { $0.trimmingWhitespace().hasPrefix("\(user):") }
        if let index { lines[index] = entry } else { lines.append(entry) }
        try write(lines.joined(separator: "\n") + "\n", to: path)
        return index == nil
    }

    /// Replaces the file through ``SecretFileWriter``: private from its first byte, and readers see the old file or
    /// the new one, never half of it.
    private static func write(_ text: String, to path: String) throws(UsersFileError) {
        do {
            try SecretFileWriter.replace(path, with: Array(text.utf8))
        } catch {
            throw UsersFileError(path: path, line: nil, problem: "cannot write the users file (\(error))")
        }
    }

    private static func problem(withName name: String) -> String? {
        if name.isEmpty { return "the user name is empty" }
        if name.contains(where: { $0 == ":" || $0.isWhitespace || $0.isNewline }) {
            return "the user name '\(name)' contains ':' or whitespace"
        }
        if name.utf8.count > Int(UInt16.max) { return "the user name is longer than 65535 bytes" }
        return nil
    }
}

/// A users file that cannot be used.
public struct UsersFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// The 1-based line at fault, if one is.
    public var line: Int?
    /// What is wrong.
    public var problem: String

    public var description: String {
        if let line { return "\(path):\(line): \(problem)" }
        return "\(path): \(problem)"
    }
}
