import Glibc

/// The one way a file holding a secret (users file, identity key, TLS key, password file, a config file with a
/// password, known_servers) is written: private from its first byte, whatever the umask.
///
/// The bytes go into a fresh sibling file made with `open(O_CREAT|O_EXCL|O_NOFOLLOW, 0600)` and `fchmod(0600)`
/// (a umask can only take bits away, and `O_EXCL` never reuses a file someone else prepared), are `fsync`ed, and
/// then the sibling takes the final name in one step. At no moment does a file with the secret exist with a wider
/// mode, and readers see the old file or the new one, never half of either.
public enum SecretFileWriter {
    /// Why a secret file could not be written. The message names the file and the system error, never the contents.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Writes `contents` to `path`, replacing the file that is there (atomically, by `rename`).
    public static func replace(_ path: String, with contents: some Collection<UInt8>) throws(Failure) {
        let temporary = try writeSibling(of: path, contents)
        defer { unlink(temporary) }
        guard rename(temporary, path) == 0 else { throw failure("cannot replace", path) }
        syncDirectory(of: path)
    }

    /// Creates `path` with `contents`, never replacing an existing file (atomically, by `link`): concurrent
    /// creators agree on one winner.
    /// - Returns: `false` when `path` already exists (the file there is left as it is).
    @discardableResult
    public static func create(_ path: String, with contents: some Collection<UInt8>) throws(Failure) -> Bool {
        let temporary = try writeSibling(of: path, contents)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw failure("cannot create", path)
        }
        syncDirectory(of: path)
        return true
    }

    /// Writes a private sibling file and returns its name; the caller renames or links it, then unlinks it.
    private static func writeSibling(of path: String, _ contents: some Collection<UInt8>) throws(Failure) -> String {
        // A name no concurrent writer (another process, or another thread of this one) picks too.
        let temporary = "\(siblingPrefix(of: path)).\(getpid()).\(UInt64.random(in: 0...UInt64.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create a file next to", path) }
        var bytes = Array(contents)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        var ok = fchmod(fd, 0o600) == 0
        var written = 0
        while ok && written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            ok = count > 0
            written += max(count, 0)
        }
        ok = ok && fsync(fd) == 0
        let savedErrno = errno
        let closed = close(fd) == 0
        guard ok && closed else {
            if !ok { errno = savedErrno }
            let error = failure("cannot write", path)
            unlink(temporary)
            throw error
        }
        return temporary
    }

    /// `dir/.name` for `dir/name`: a hidden sibling in the same directory, so `rename` and `link` stay on one file
    /// system.
    private static func siblingPrefix(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return ".\(path)" }
        return "\(path[...slash]).\(path[path.index(after: slash)...])"
    }

    /// Makes the new name durable too; a failure here loses nothing already written, so it is not an error.
    private static func syncDirectory(of path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func failure(_ step: String, _ path: String) -> Failure {
        Failure(description: "\(step) \(path): \(String(cString: strerror(errno)))")
    }
}
