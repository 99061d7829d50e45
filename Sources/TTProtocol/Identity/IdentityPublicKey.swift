/// A server's long-term Ed25519 identity public key, as carried in the ServerHello.
public struct IdentityPublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32 raw key bytes.
    public let rawRepresentation: [UInt8]

    /// - Throws: ``ProtocolError/badSignature`` unless `rawRepresentation` is 32 bytes (a key that cannot
    ///   verify anything).
    public init(rawRepresentation: [UInt8]) throws(ProtocolError) {
        guard rawRepresentation.count == 32 else {
            throw ProtocolError.badSignature.with(detail: "identity key of \(rawRepresentation.count) bytes")
        }
        self.rawRepresentation = rawRepresentation
    }

    /// `SHA256:<unpadded base64 of SHA-256(raw key)>`.
    public var fingerprint: IdentityFingerprint { IdentityFingerprint(publicKey: self) }

    public var description: String { fingerprint.description }
}
