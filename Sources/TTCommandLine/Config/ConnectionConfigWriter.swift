import FoundationEssentials
import Glibc
import TTBasics
import TTCommandSupport
import TTTransport

/// Writes and removes `[connection NAME]` sections of a config file (`--save-connection`, `setup`).
///
/// Only the section concerned changes: every other line, comments and blank lines included, is kept byte for
/// byte, and a replaced section keeps its place in the file. A section runs from its header to its last
/// `key = value` line; comments after that belong to what follows (they usually introduce the next section).
/// The file is written atomically and private from its first byte (`SecretFileWriter`), and never holds a
/// password: passwords go to their own files (``storePassword(_:forFile:besideConfig:)``), which the entry names.
/// Each read-change-replace holds a lock (``withWriteLock(_:_:)``), so two tools saving at once both keep theirs.
enum ConnectionConfigWriter {
    /// How long a writer waits for another to finish before giving up.
    static let lockTimeout = Duration.seconds(10)

    /// Whether `name` can be a connection name: one word the parser reads back unchanged.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy {
                isAlphanumeric($0) || "-_.@+".unicodeScalars.contains($0)
            }
    }

    /// Letters, marks and digits of any script: what `CharacterSet.alphanumerics` holds (Unicode L*, M*, N*).
    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .nonspacingMark,
            .spacingMark, .enclosingMark, .decimalNumber, .letterNumber, .otherNumber:
            true
        default: false
        }
    }

    /// The section for `entry`: its header and one `key = value` line per setting, in a fixed order.
    /// File names inside the config file's directory are written relative to it, so the two can move together.
    static func section(for entry: ConnectionEntry, configPath: String) -> String {
        var lines = ["[connection \(entry.name)]"]
        func add(_ key: String, _ value: String?) {
            if let value { lines.append("\(key) = \(value)") }
        }
        add("server", entry.server)
        add("port", entry.port.map(String.init))
        add("user", entry.user)
        add("password-file", entry.passwordFile.map { relative($0, to: configPath) })
        add("proxy", entry.proxy.map(\.url))
        add("proxy-pac", entry.proxyPac.map { relative($0, to: configPath) })
        add("proxy-auth", entry.proxyAuth.map { "\($0)" })
        add("proxy-auth-no-basic", entry.proxyAuthNoBasic.map { $0 ? "yes" : "no" })
        // The user only: a password never goes into the config file.
        add("proxy-user", entry.proxyCredentials.map { $0.user.isEmpty ? ":" : $0.user })
        add("proxy-password-file", entry.proxyPasswordFile.map { relative($0, to: configPath) })
        add("tls", entry.tls?.rawValue)
        add("server-key", entry.serverKey)
        return lines.joined(separator: "\n") + "\n"
    }

    /// `text` with the section called `name` replaced by `section` where it stands (appended when there is
    /// none), or removed when `section` is `nil`. Nothing else changes.
    static func replacingSection(_ name: String, in text: String, with section: String?) -> String {
        // Split as the loader splits, at every line feed: a file saved with CR LF line ends keeps its CRs at the
        // ends of its lines (which the loader trims) instead of being one line.
        var lines = text.fileLines.map(String.init)
        // A file ending with "\n" splits into a last empty piece, which is no line.
        let endsWithNewline = text.unicodeScalars.last == "\n"
        if endsWithNewline { lines.removeLast() }
        guard let header = lines.firstIndex(where: { sectionName(of: $0) == name }) else {
            guard let section else { return text }
            var result = text
            if !result.isEmpty {
                if !endsWithNewline { result += "\n" }
                // A blank line before the new section, unless the file already ends with one.
                if !endsWithNewline || !(lines.last?.trimmingWhitespace().isEmpty ?? true) { result += "\n" }
            }
            return result + section
        }
        var end = header + 1
        var index = header + 1
        while index < lines.count, !lines[index].trimmingWhitespace().hasPrefix("[") {
            let line = lines[index].trimmingWhitespace()
            if !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix(";") { end = index + 1 }
            index += 1
        }
        var start = header
        // A removed section takes one blank line beside it along, so removals leave no gaps behind.
        if section == nil {
            if end < lines.count, lines[end].trimmingWhitespace().isEmpty {
                end += 1
            } else if end == lines.count, start > 0, lines[start - 1].trimmingWhitespace().isEmpty {
                start -= 1
            }
        }
        lines.replaceSubrange(start..<end, with: section.map { $0.split(separator: "\n").map(String.init) } ?? [])
        guard !lines.isEmpty else { return "" }
        return lines.joined(separator: "\n") + (endsWithNewline || section != nil ? "\n" : "")
    }

    /// The name of the `[connection NAME]` header on `line`, as the parser reads it; `nil` for other lines.
    static func sectionName(of line: String) -> String? {
        let trimmed = line.trimmingWhitespace()
        guard trimmed.hasPrefix("["), trimmed.hasSuffix("]") else { return nil }
        let words = trimmed.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 2, words[0] == "connection" else { return nil }
        return String(words[1].trimming { $0 == "\"" })
    }

    /// The config file's text, or "" when it does not exist yet.
    /// - Throws: ``CommandFailure`` (usage) when it exists but cannot be read, is not UTF-8, or does not parse:
    ///   a file tt-connect cannot read is not rewritten.
    static func currentText(of path: String) throws(CommandFailure) -> String {
        // Read as the loader reads it: a FIFO in its place refused rather than waited on, the size bounded.
        let read: FilePermissions.CheckedFile?
        do {
            read = try FilePermissions.readChecking(path, what: "the config file", limit: 1 << 20)
        } catch {
            throw .usage(error.description)
        }
        guard let read else { return "" }
        guard let text = String(validating: read.bytes, as: UTF8.self) else {
            throw .usage("the config file \(path) is not UTF-8 text")
        }
        do {
            _ = try ConnectionConfigFile(parsing: text, path: path)
        } catch {
            throw .usage("\(error); fix it before tt-connect writes to it")
        }
        return text
    }

    /// Writes `entry` into the config file at `path` (created, with its directory, when missing).
    static func save(_ entry: ConnectionEntry, to path: String) throws(CommandFailure) {
        try withWriteLock(path) { () throws(CommandFailure) in
            let text = try currentText(of: path)
            let updated = replacingSection(entry.name, in: text, with: section(for: entry, configPath: path))
            try write(updated, to: path)
        }
    }

    /// Removes the section `name` from the config file at `path`.
    /// - Returns: the removed entry.
    /// - Throws: ``CommandFailure`` (usage) naming the connections there are when there is no such section.
    @discardableResult
    static func remove(_ name: String, from path: String) throws(CommandFailure) -> ConnectionEntry {
        try withWriteLock(path) { () throws(CommandFailure) in
            let text = try currentText(of: path)
            let entry: ConnectionEntry
            do {
                entry = try ConnectionConfigFile(parsing: text, path: path).entry(named: name)
            } catch {
                throw .usage("\(error)")
            }
            try write(replacingSection(name, in: text, with: nil), to: path)
            return entry
        }
    }

    /// Runs `body` holding an exclusive `flock` on the config file's directory (the file itself is replaced by
    /// a rename, so a lock on it would not outlive the first writer), waiting at most ``lockTimeout``: without
    /// it, two tools that read the file before either wrote it each wrote back only their own change.
    private static func withWriteLock<Result>(
        _ path: String,
        _ body: () throws(CommandFailure) -> Result
    ) throws(CommandFailure) -> Result {
        try createDirectory(of: path)
        let directory = FilePathText.directory(of: path)
        let lockPath = directory.isEmpty ? "." : directory
        let fd = open(lockPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw .usage(
                "cannot open the directory \(lockPath) of the config file: \(SystemErrorText.describe(errno: errno))"
            )
        }
        // Closing the descriptor releases the lock.
        defer { close(fd) }
        let deadline = ContinuousClock.now + lockTimeout
        // Bounded by `deadline`: one try every 10 ms.
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw .usage("cannot lock the config file \(path): \(SystemErrorText.describe(errno: errno))")
            }
            guard ContinuousClock.now < deadline else {
                throw .usage(
                    "another program has been writing the config file \(path) for \(lockTimeout.readable); "
                        + "try again when it is done"
                )
            }
            usleep(10_000)
        }
        return try body()
    }

    /// Stores a password in the file `fileName` beside the config file (mode 600, first line) and returns its
    /// path, for `password-file` or `proxy-password-file`.
    static func storePassword(
        _ password: String,
        forFile fileName: String,
        besideConfig configPath: String
    ) throws(CommandFailure) -> String {
        let directory = FilePathText.directory(of: configPath)
        let path = directory.isEmpty ? fileName : FilePathText.join(directory, fileName)
        try createDirectory(of: path)
        do {
            try SecretFileWriter.replace(path, with: Array((password + "\n").utf8))
        } catch {
            throw .usage("cannot store the password: \(error)")
        }
        return path
    }

    private static func write(_ text: String, to path: String) throws(CommandFailure) {
        // What tt-connect writes, tt-connect must read back.
        do {
            _ = try ConnectionConfigFile(parsing: text, path: path)
        } catch {
            throw CommandFailure(
                exitCode: 1,
                message: "internal error: the config file to write does not parse: \(error)"
            )
        }
        try createDirectory(of: path)
        do {
            try SecretFileWriter.replace(path, with: Array(text.utf8))
        } catch {
            throw .usage("cannot write the config file: \(error)")
        }
    }

    /// Creates the directory of `path` with its parents, mode 0700 (`~/.config/tt-connect` on first use).
    private static func createDirectory(of path: String) throws(CommandFailure) {
        let directory = FilePathText.directory(of: path)
        guard !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw .usage("cannot create the directory \(directory): \(SystemErrorText.describe(error))")
        }
    }

    /// `path` relative to the config file's directory when inside it (the parser resolves it back).
    private static func relative(_ path: String, to configPath: String) -> String {
        guard !path.contains("://") else { return path }
        let directory = FilePathText.directory(of: configPath)
        guard !directory.isEmpty, path.hasPrefix(directory + "/") else { return path }
        return String(path.dropFirst(directory.count + 1))
    }
}
