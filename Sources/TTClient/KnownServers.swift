import Foundation

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
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".config/tt-connect/known_servers")
    }

    /// A known-servers file at `path` (created on first ``remember(_:fingerprint:)``).
    public init(path: String = KnownServers.defaultPath) {
        self.path = path
    }

    /// The fingerprint recorded for `server` (`host:port`), or `nil` when the server is new.
    /// - Throws: ``KnownServersError/unreadable(path:line:)`` when a line cannot be read.
    public func fingerprint(for server: String) throws(KnownServersError) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
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
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw .unwritable(path: path, reason: "\(error.localizedDescription)")
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let line = Array("\(server) \(fingerprint)\n".utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw .unwritable(path: path, reason: String(cString: strerror(errno))) }
    }
}

/// Why the known-servers file could not be used.
public enum KnownServersError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A line is not `host:port SHA256:…`.
    case unreadable(path: String, line: Int)
    /// The file or its directory could not be written.
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let line):
            "known-servers file \(path):\(line): expected 'host:port SHA256:fingerprint'"
        case .unwritable(let path, let reason):
            "cannot write known-servers file \(path): \(reason)"
        }
    }
}
