import FoundationEssentials
import Glibc
import TTBasics

/// The known-servers file: one `host:port SHA256:…` line per server whose identity this user has accepted,
/// the counterpart of OpenSSH's `known_hosts` for trust-on-first-use.
///
/// Lines starting with `#` and blank lines are ignored. A server is written as `host:port`, an IPv6 address in
/// brackets (`[::1]:5000`).
public struct KnownServers: Sendable {
    /// Where the file lives.
    public let path: String

    /// The default location, `~/.config/tt-connect/known_servers`.
    public static var defaultPath: String {
        let home = FilePathText.homeDirectory(environment: ProcessInfo.processInfo.environment)
        return FilePathText.join(home, ".config/tt-connect/known_servers")
    }

    /// The largest file read (16 MiB, some 200,000 servers): a larger one is refused, not read into memory.
    static let sizeLimit = 16 << 20

    /// A known-servers file at `path` (created on first ``remember(_:fingerprint:)``).
    public init(path: String = KnownServers.defaultPath) {
        self.path = path
    }

    /// The fingerprint recorded for `server` (`host:port`), or `nil` when the server is new.
    ///
    /// Only a missing file means "no server known yet". Any other failure to read it is an error: treating an
    /// unreadable file as empty would accept and record whatever key a man in the middle presents.
    /// - Throws: ``KnownServersError/unreadable`` when a line cannot be read,
    ///   ``KnownServersError/unopenable`` when the file exists but cannot be read.
    public func fingerprint(for server: String) throws(KnownServersError) -> String? {
        // Whoever can replace the file decides which server keys are trusted: refuse it, as OpenSSH's
        // StrictModes does, rather than warn.
        do {
            try FilePermissions.checkTrustFile(path, what: "known-servers file")
        } catch {
            throw .unsafe(path: path, reason: error.description)
        }
        // Opened without blocking (a FIFO in its place would hold the connection for good) and bounded in size.
        let bytes: [UInt8]
        do {
            guard let file = try FilePermissions.readChecking(path, what: "known-servers file", limit: Self.sizeLimit)
            else { return nil }
            bytes = file.bytes
        } catch {
            // A path through something that is no directory (a HOME that is a file) holds no file either.
            if !FileManager.default.fileExists(atPath: path) { return nil }
            throw .unopenable(path: path, reason: error.description)
        }
        // A stray non-UTF-8 byte spoils only its own line (which then fails to parse), never the whole file.
        let text = String(decoding: bytes, as: UTF8.self)
        for (index, rawLine) in text.fileLines.enumerated() {
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 2, fields[1].hasPrefix("SHA256:") else {
                throw .unreadable(path: path, line: index + 1)
            }
            if fields[0] == server { return String(fields[1]) }
        }
        return nil
    }

    /// Records `fingerprint` for `server`, creating the file (mode 0600) and its directory when needed.
    public func remember(_ server: String, fingerprint: String) throws(KnownServersError) {
        // URL handles a bare file name ("known") too, where NSString.deletingLastPathComponent traps.
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        // Only the last two levels (`.config/tt-connect` of the default path) are created, below a directory that
        // exists: a missing HOME is never conjured up, not even by root. mkdir(2) rather than FileManager, whose
        // errors read "The operation could not be completed".
        let parent = URL(fileURLWithPath: directory).deletingLastPathComponent().path
        let anchor = URL(fileURLWithPath: parent).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: directory) {
            if !FileManager.default.fileExists(atPath: parent) {
                guard FileManager.default.fileExists(atPath: anchor) else {
                    throw .unwritable(
                        path: path,
                        reason: "\(anchor) does not exist, and a missing home directory is never created"
                    )
                }
                try Self.makeDirectory(parent, for: path)
            }
            try Self.makeDirectory(directory, for: path)
        }
        var line = Array("\(server) \(fingerprint)\n".utf8)
        // A new file is private from its first byte (SecretFileWriter); an existing one, already checked by
        // checkTrustFile, gets the line appended.
        do {
            if try SecretFileWriter.create(path, with: line) { return }
        } catch {
            throw .unwritable(path: path, reason: error.description)
        }
        let fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        // A file edited by hand may lack its last line break: appended to that line, the entry would spoil it and
        // itself (three fields), and every later check would refuse the whole file.
        var status = stat()
        var last: UInt8 = 0
        if fstat(fd, &status) == 0, status.st_size > 0, pread(fd, &last, 1, status.st_size - 1) == 1, last != 0x0A {
            line.insert(0x0A, at: 0)
        }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
    }
}

extension KnownServers {
    private static func makeDirectory(_ directory: String, for path: String) throws(KnownServersError) {
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw .unwritable(
                path: path,
                reason: "cannot create the directory \(directory): \(String(cString: strerror(errno)))"
            )
        }
    }
}

/// Why the known-servers file could not be used.
///
/// Compare against the static members (`error == .unreadable`), as with `ProtocolError`; ``path``, ``line`` and
/// the reason in ``description`` are context, not part of equality. New codes never break callers.
public struct KnownServersError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case unreadable, unopenable, unwritable, unsafe
    }
    private let code: Code
    /// The known-servers file.
    public let path: String
    /// The line that is not `host:port SHA256:…` (``unreadable`` only).
    public let line: Int?
    /// Why the file could not be used (for the client's own messages, such as the warning of an unwritable file).
    let reason: String

    private init(_ code: Code, path: String = "", line: Int? = nil, reason: String = "") {
        self.code = code
        self.path = path
        self.line = line
        self.reason = reason
    }

    public static func == (lhs: KnownServersError, rhs: KnownServersError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// A line is not `host:port SHA256:…`.
    public static let unreadable = KnownServersError(.unreadable)
    /// The file exists but cannot be read (permissions, a directory in its place).
    public static let unopenable = KnownServersError(.unopenable)
    /// The file or its directory could not be written.
    public static let unwritable = KnownServersError(.unwritable)
    /// Other users could replace the file (TTBasics `FilePermissions.checkTrustFile`).
    public static let unsafe = KnownServersError(.unsafe)

    static func unreadable(path: String, line: Int) -> KnownServersError {
        KnownServersError(.unreadable, path: path, line: line)
    }
    static func unopenable(path: String, reason: String) -> KnownServersError {
        KnownServersError(.unopenable, path: path, reason: reason)
    }
    static func unwritable(path: String, reason: String) -> KnownServersError {
        KnownServersError(.unwritable, path: path, reason: reason)
    }
    static func unsafe(path: String, reason: String) -> KnownServersError {
        KnownServersError(.unsafe, path: path, reason: reason)
    }

    public var description: String {
        switch code {
        case .unreadable:
            "known-servers file \(path):\(line ?? 0): expected 'host:port SHA256:fingerprint'"
        case .unopenable:
            "cannot read known-servers file \(path): \(reason); fix or remove it (server identities cannot be checked)"
        case .unwritable:
            "cannot write known-servers file \(path): \(reason)"
        case .unsafe:
            reason
        }
    }
}
