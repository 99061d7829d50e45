internal import CCrypto

/// A server's long-term Ed25519 identity: signs every ServerHello. Its PKCS#8 PEM form is ``pemRepresentation()``;
/// the key file itself (mode 0600, created atomically) is read and written by TTServer, since this module does no I/O.
public struct ServerIdentity: Sendable, CustomStringConvertible, CustomReflectable {
    private let privateKey: [UInt8]
    /// The public half, sent in every ServerHello.
    public let publicKey: IdentityPublicKey

    /// An identity from a raw 32-byte Ed25519 private key (seed).
    /// - Throws: ``ProtocolError/identityFileInvalid`` unless the key is 32 bytes.
    public init(privateKey: [UInt8]) throws(ProtocolError) {
        guard privateKey.count == 32 else {
            throw ProtocolError.identityFileInvalid.with(detail: "private key of \(privateKey.count) bytes")
        }
        self.privateKey = privateKey
        publicKey = try IdentityPublicKey(rawRepresentation: Crypto.ed25519PublicKey(privateKey: privateKey))
    }

    /// A new random identity.
    public static func generate() -> ServerIdentity {
        try! ServerIdentity(privateKey: Crypto.randomBytes(32))
    }

    /// `SHA256:<base64>` of the public key.
    public var fingerprint: IdentityFingerprint { publicKey.fingerprint }

    /// Never shows the private key.
    public var description: String { "ServerIdentity(\(fingerprint))" }
    /// `dump()` and debuggers show the fingerprint, never the private key.
    public var customMirror: Mirror { Mirror(self, children: ["fingerprint": fingerprint.description]) }

    func sign(_ message: [UInt8]) throws(ProtocolError) -> [UInt8] {
        try Crypto.ed25519Sign(privateKey: privateKey, message: message)
    }

    /// The private key as a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`).
    public func pemRepresentation() throws(ProtocolError) -> String {
        var pem: UnsafeMutablePointer<CChar>?
        var length = 0
        guard CCrypto_ed25519PrivateKeyToPEM(privateKey, &pem, &length) == 1, let pem else {
            throw ProtocolError.cryptoFailure.with(detail: "writing the PEM private key")
        }
        defer { CCrypto_freeSecret(pem, length) }
        return String(decoding: UnsafeRawBufferPointer(start: pem, count: length), as: UTF8.self)
    }

    /// An identity from a PKCS#8 PEM document.
    /// - Throws: ``ProtocolError/identityFileInvalid``.
    public init(pemRepresentation pem: String) throws(ProtocolError) {
        var key = [UInt8](repeating: 0, count: 32)
        let bytes = Array(pem.utf8)
        let ok = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                CCrypto_ed25519PrivateKeyFromPEM($0.baseAddress, $0.count, &key)
            }
        }
        guard ok == 1 else { throw ProtocolError.identityFileInvalid }
        try self.init(privateKey: key)
    }
}
