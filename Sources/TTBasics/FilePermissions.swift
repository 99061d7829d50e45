import Glibc

/// OpenSSH-style checks that a file holding a secret, or deciding whom to trust, is not open to other users.
///
/// - A secret file (an identity key, a users file, a config file with a password) must belong to the user (or
///   root) and grant nothing to group or others: another user could read the secret, or replace it.
/// - The directory of a trust file (known_servers) must not be writable by group or others unless it is sticky
///   (`/tmp`): otherwise anyone could swap the file and with it the recorded server identities. The file itself
///   must belong to the user (or root) and not be writable by group or others.
///
/// The message of a refusal names the file, its mode and the `chmod` that fixes it.
public enum FilePermissions {
    /// Why a file was refused.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Refuses `path` when group or others have any permission on it, or another user owns it.
    /// A missing file passes (the caller reports or creates it).
    /// - Parameter what: how the file is named in the message, e.g. `identity key`.
    public static func checkSecret(_ path: String, what: String) throws(Refusal) {
        guard let status = status(of: path) else { return }
        try checkSecret(status, path: path, what: what)
    }

    /// Opens `path`, checks the opened file as ``checkSecret(_:what:)`` does (by `fstat` on the descriptor that is
    /// then read, as OpenSSH does, so the file checked is the file read), and reads it.
    /// - Parameter limit: the most bytes accepted; a larger file is refused.
    /// - Returns: the contents, or `nil` when the file does not exist.
    /// - Throws: ``Refusal`` when the file is open to others, cannot be read, or is larger than `limit`.
    public static func readSecret(_ path: String, what: String, limit: Int = 1 << 20) throws(Refusal) -> [UInt8]? {
        try withOpenedFile(path, what: what) { fd, status throws(Refusal) in
            try checkSecret(status, path: path, what: what)
            return try readAll(fd, path: path, what: what, limit: limit)
        }
    }

    /// A file read through one descriptor, with that descriptor's `fstat`.
    public struct CheckedFile: Sendable {
        /// Where it was read from, for messages.
        public let path: String
        /// The contents.
        public let bytes: [UInt8]
        fileprivate let status: stat

        /// Refuses the file as ``checkSecret(_:what:)`` would, judged on the descriptor that was read.
        /// - Parameter what: how the file is named in the message, e.g. `the config file, which holds a password,`.
        public func checkSecret(what: String) throws(Refusal) {
            try FilePermissions.checkSecret(status, path: path, what: what)
        }
    }

    /// Opens `path` and reads it, keeping the descriptor's `fstat`, for a file whose contents decide whether it
    /// holds a secret (a config file with or without a password): the caller checks it with
    /// ``CheckedFile/checkSecret(what:)`` once it knows, and the file checked is the file read.
    /// - Parameter limit: the most bytes accepted; a larger file is refused.
    /// - Returns: `nil` when the file does not exist.
    /// - Throws: ``Refusal`` when the file cannot be read, is not a regular file, or is larger than `limit`.
    public static func readChecking(_ path: String, what: String, limit: Int = 1 << 20) throws(Refusal) -> CheckedFile?
    {
        try withOpenedFile(path, what: what) { fd, status throws(Refusal) in
            CheckedFile(path: path, bytes: try readAll(fd, path: path, what: what, limit: limit), status: status)
        }
    }

    /// Runs `body` with a descriptor of the regular file at `path` and its `fstat`; `nil` when it does not exist.
    /// `O_NONBLOCK` keeps a FIFO put in the file's place from blocking the open.
    private static func withOpenedFile<Result>(
        _ path: String,
        what: String,
        _ body: (Int32, stat) throws(Refusal) -> Result
    ) throws(Refusal) -> Result? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw Refusal(description: "cannot read \(what) \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw Refusal(description: "cannot read \(what) \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw Refusal(description: "\(what) \(path) is not a regular file")
        }
        return try body(fd, status)
    }

    /// Reads `fd` to its end, refusing more than `limit` bytes; buffers are zeroed (the bytes may be a secret).
    private static func readAll(_ fd: Int32, path: String, what: String, limit: Int) throws(Refusal) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        defer { for index in chunk.indices { chunk[index] = 0 } }
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw Refusal(description: "cannot read \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return bytes }
            guard bytes.count + count <= limit else {
                for index in bytes.indices { bytes[index] = 0 }
                throw Refusal(description: "\(what) \(path) is larger than \(limit) bytes")
            }
            bytes += chunk[..<count]
        }
    }

    private static func checkSecret(_ status: stat, path: String, what: String) throws(Refusal) {
        try checkOwner(status, path: path, what: what)
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Refusal(
                description: "\(what) \(path) is accessible by other users (mode \(octal(mode))); "
                    + "it must be private: chmod 600 \(path)"
            )
        }
    }

    /// Refuses a trust file that others could replace: a directory writable by group or others and not sticky,
    /// a file writable by group or others, or either owned by another user. Missing paths pass.
    public static func checkTrustFile(_ path: String, what: String) throws(Refusal) {
        let directory = parentDirectory(of: path)
        if let status = status(of: directory) {
            try checkOwner(status, path: directory, what: "the directory of the \(what)", allowRootSticky: true)
            let mode = status.st_mode & 0o7777
            if mode & 0o022 != 0, mode & UInt32(S_ISVTX) == 0 {
                throw Refusal(
                    description: "the directory \(directory) of the \(what) \(path) is writable by other users "
                        + "(mode \(octal(mode & 0o777))), so anyone could replace the file: chmod go-w \(directory)"
                )
            }
        }
        if let status = status(of: path) {
            try checkOwner(status, path: path, what: what)
            let mode = status.st_mode & 0o777
            if mode & 0o022 != 0 {
                throw Refusal(
                    description: "\(what) \(path) is writable by other users (mode \(octal(mode))): chmod go-w \(path)"
                )
            }
        }
    }

    private static func status(of path: String) -> stat? {
        var status = stat()
        return stat(path, &status) == 0 ? status : nil
    }

    private static func checkOwner(
        _ status: stat,
        path: String,
        what: String,
        allowRootSticky: Bool = false
    ) throws(Refusal) {
        let owner = status.st_uid
        guard owner != geteuid(), owner != 0 else { return }
        // A shared sticky directory (/tmp) may belong to anyone: the sticky bit keeps our file ours.
        if allowRootSticky, status.st_mode & UInt32(S_ISVTX) != 0 { return }
        throw Refusal(description: "\(what) \(path) belongs to another user (uid \(owner)); refusing to use it")
    }

    private static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = path[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }

    private static func octal(_ mode: UInt32) -> String {
        "0" + String(mode, radix: 8)
    }
}
