import Glibc
import TTBasics
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

/// File access for the identity key, through the shared secret-file helpers: permissions checked on the descriptor
/// that is read, and a file private from its first byte that never replaces an existing one.
private enum IdentityFile {
    static func exists(path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func readContents(path: String) throws(ProtocolError) -> String {
        let bytes: [UInt8]?
        do {
            bytes = try FilePermissions.readSecret(path, what: "identity key", limit: 1 << 20)
        } catch {
            throw ProtocolError.identityFileUnreadable.with(detail: error.description)
        }
        guard let bytes else {
            throw ProtocolError.identityFileUnreadable.with(detail: "\(path) does not exist")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Returns false when `path` already exists.
    static func createExclusively(path: String, contents: String) throws(ProtocolError) -> Bool {
        do {
            return try SecretFileWriter.create(path, with: Array(contents.utf8))
        } catch {
            throw ProtocolError.identityFileUnwritable.with(detail: error.description)
        }
    }
}
