import Glibc

/// Writes files that hold secrets or settings (config files, password files) so that no other user can read
/// them at any moment, and no reader ever sees half a file.
///
/// The bytes go to a new temporary file beside the target, created with mode 0600 by `open(O_CREAT|O_EXCL)`
/// (private from its first byte, and never an existing file or a planted symbolic link), then `fsync`, then
/// `rename` over the target, then `fsync` of the directory: after a crash the target is the old file or the new
/// one, never a mix. A missing directory is created with mode 0700.
public enum PrivateFile {
    /// Why a write failed, naming the file and the system's reason.
    public struct WriteError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// Replaces (or creates) `path` with `bytes`, atomically, mode 0600.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(WriteError) {
        try createDirectory(of: path)
        let (descriptor, temporary) = try createTemporary(beside: path)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let reason = SystemErrorText.describe(errno: errno)
                close(descriptor)
                unlink(temporary)
                throw WriteError(description: "cannot write \(temporary): \(reason)")
            }
            written += count
        }
        guard fsync(descriptor) == 0 else {
            let reason = SystemErrorText.describe(errno: errno)
            close(descriptor)
            unlink(temporary)
            throw WriteError(description: "cannot flush \(temporary) to disk: \(reason)")
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let reason = SystemErrorText.describe(errno: errno)
            unlink(temporary)
            throw WriteError(description: "cannot replace \(path): \(reason)")
        }
        // The rename itself is durable only once the directory is.
        let directory = open(directoryPath(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// Creates an empty temporary file beside `path`, mode 0600 from its creation, and opens it for writing.
    /// Its name is `.NAME.tmp-RANDOM` in the same directory, so the final `rename` stays on one file system.
    /// - Returns: the open descriptor and the temporary file's path; the caller closes the one and renames or
    ///   removes the other.
    public static func createTemporary(beside path: String) throws(WriteError) -> (descriptor: Int32, path: String) {
        let directory = directoryPath(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        // A few attempts, in case a stale temporary of the same name is left from a crash.
        var lastError = ""
        for _ in 0..<8 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let temporary = "\(directory)/.\(name).tmp-\(suffix)"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if descriptor >= 0 {
                // The umask can only take bits away from 0600; it cannot add any.
                return (descriptor, temporary)
            }
            let code = errno
            lastError = SystemErrorText.describe(errno: code)
            guard code == EEXIST else { break }
        }
        throw WriteError(description: "cannot create a temporary file in \(directory): \(lastError)")
    }

    /// Creates the directory of `path` (and its parents) with mode 0700 when missing.
    private static func createDirectory(of path: String) throws(WriteError) {
        let directory = directoryPath(of: path)
        var status = stat()
        if stat(directory, &status) == 0 { return }
        let parent = directoryPath(of: directory)
        if parent != directory { try createDirectory(of: directory) }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw WriteError(
                description: "cannot create the directory \(directory): \(SystemErrorText.describe(errno: errno))"
            )
        }
    }

    private static func directoryPath(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = path[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }
}
