import TTBasics

/// `SHA256:` and the unpadded standard base64 of SHA-256 over a raw Ed25519 identity public key, the shape of
/// OpenSSH fingerprints. Equal fingerprints mean the same identity key.
public struct IdentityFingerprint: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The 32-byte SHA-256 digest.
    public let digest: [UInt8]

    /// The fingerprint of `publicKey`.
    public init(publicKey: IdentityPublicKey) {
        digest = Crypto.sha256(publicKey.rawRepresentation)
    }

    /// Parses `SHA256:<base64>` (padding optional, surrounding whitespace ignored).
    /// - Throws: ``ProtocolError/invalidFingerprint``.
    public init(parsing text: String) throws(ProtocolError) {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix("SHA256:"),
            let digest = Base64.decode(trimmed.dropFirst("SHA256:".count)),
            digest.count == 32
        else {
            throw ProtocolError.invalidFingerprint.with(detail: "'\(trimmed.prefix(80))'")
        }
        self.digest = digest
    }

    public init?(_ description: String) {
        guard let parsed = try? IdentityFingerprint(parsing: description) else { return nil }
        self = parsed
    }

    /// Whether `key` is the identity this fingerprint names.
    public func matches(_ key: IdentityPublicKey) -> Bool {
        Crypto.constantTimeEqual(digest, Crypto.sha256(key.rawRepresentation))
    }

    public var description: String { "SHA256:" + Base64.encode(digest, padded: false) }
}
