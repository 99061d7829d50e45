import Glibc
public import TTProtocol

/// The identity key file of a server: reading, creating and writing it. TTProtocol only converts an identity to
/// and from its PKCS#8 PEM text; the file access lives here, with the server that owns the key.
extension ServerIdentity {
    /// Reads the identity key file at `path`.
    /// - Throws: ``ProtocolError/identityFileUnreadable`` or ``ProtocolError/identityFileInvalid``.
    public static func load(path: String) throws(ProtocolError) -> ServerIdentity {
        let pem = try IdentityFile.readContents(path: path)
        do {
            return try ServerIdentity(pemRepresentation: pem)
        } catch {
            throw error.with(detail: path)
        }
    }

    /// Reads the identity key file at `path`, creating it with a new identity (mode 0600) when it does not
    /// exist. Concurrent callers agree on one identity: the file appears atomically and is never replaced.
    /// - Throws: ``ProtocolError/identityFileUnreadable``, ``ProtocolError/identityFileInvalid`` or
    ///   ``ProtocolError/identityFileUnwritable``.
    public static func loadOrCreate(path: String) throws(ProtocolError) -> ServerIdentity {
        if IdentityFile.exists(path: path) {
            return try load(path: path)
        }
        let identity = generate()
        if try IdentityFile.createExclusively(path: path, contents: identity.pemRepresentation()) {
            return identity
        }
        return try load(path: path)
    }

    /// Writes this identity to a new file at `path` with mode 0600; never overwrites an existing file.
    /// - Throws: ``ProtocolError/identityFileUnwritable`` (also when the file exists).
    public func write(toPath path: String) throws(ProtocolError) {
        guard try IdentityFile.createExclusively(path: path, contents: pemRepresentation()) else {
            throw ProtocolError.identityFileUnwritable.with(detail: "\(path) already exists")
        }
    }
}

/// POSIX file access for the identity key: exact modes and an atomic, non-replacing create.
private enum IdentityFile {
    static func exists(path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func readContents(path: String) throws(ProtocolError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ProtocolError.identityFileUnreadable.with(detail: "\(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw ProtocolError.identityFileUnreadable.with(detail: "\(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes += chunk[..<count]
        }
        throw ProtocolError.identityFileInvalid.with(detail: "\(path) is larger than 1 MiB")
    }

    /// Writes a temporary file with mode 0600 and links it to `path`, which fails instead of replacing an
    /// existing file. Returns false when `path` already exists.
    static func createExclusively(path: String, contents: String) throws(ProtocolError) -> Bool {
        // A name no concurrent creator (another process, or another thread of this one) picks too.
        let temporary = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        func failure(_ step: String) -> ProtocolError {
            ProtocolError.identityFileUnwritable.with(detail: "\(step) \(path): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create a file next to") }
        defer { unlink(temporary) }
        var bytes = Array(contents.utf8)
        defer { for index in bytes.indices { bytes[index] = 0 } }
        var written = 0
        var ok = fchmod(fd, 0o600) == 0
        while ok && written < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 && errno == EINTR { continue }
            ok = count > 0
            written += max(count, 0)
        }
        ok = ok && fsync(fd) == 0
        let closed = close(fd) == 0
        guard ok && closed else { throw failure("cannot write") }
        if link(temporary, path) == 0 { return true }
        if errno == EEXIST { return false }
        throw failure("cannot create")
    }
}
