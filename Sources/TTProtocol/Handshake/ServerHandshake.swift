/// The server side of the handshake: ``respond(to:)`` with the 70-byte ClientHello, send the ServerHello back.
///
/// Make one per connection: each holds its own ephemeral key.
public struct ServerHandshake: Sendable, CustomStringConvertible, CustomReflectable {
    private let identity: ServerIdentity
    private let ephemeralPrivateKey: [UInt8]
    private let ephemeralPublicKey: [UInt8]

    /// A handshake with a fresh ephemeral key.
    public init(identity: ServerIdentity) {
        try! self.init(identity: identity, ephemeralPrivateKey: Crypto.randomBytes(32))
    }

    /// A handshake with a given ephemeral key (test vectors).
    /// - Parameters:
    ///   - identity: The server's long-term Ed25519 identity.
    ///   - ephemeralPrivateKey: Raw 32-byte X25519 private key.
    public init(identity: ServerIdentity, ephemeralPrivateKey: [UInt8]) throws(ProtocolError) {
        guard ephemeralPrivateKey.count == 32 else {
            throw ProtocolError.cryptoFailure.with(detail: "ephemeral key must be 32 bytes")
        }
        self.identity = identity
        self.ephemeralPrivateKey = ephemeralPrivateKey
        ephemeralPublicKey = try Crypto.x25519PublicKey(privateKey: ephemeralPrivateKey)
    }

    /// Checks a ClientHello and produces the ServerHello and this side's session keys.
    /// - Throws: ``ProtocolError`` of kind `.notFrameworkPeer`: ``ProtocolError/badMagic``,
    ///   ``ProtocolError/unsupportedVersion``, ``ProtocolError/truncatedHello``, ``ProtocolError/invalidPeerKey``.
    public func respond(to clientHello: [UInt8]) throws(ProtocolError) -> (serverHello: [UInt8], keys: SessionKeys) {
        try Handshake.validate(clientHello, size: Handshake.clientHelloSize)
        let shared = try Crypto.x25519SharedSecret(
            privateKey: ephemeralPrivateKey,
            peerPublicKey: Array(clientHello[6..<38])
        )
        var serverHello = Handshake.header() + ephemeralPublicKey + identity.publicKey.rawRepresentation
        let message = Handshake.signedMessage(clientHello: clientHello, serverHelloPrefix: serverHello[0..<70])
        serverHello += try identity.sign(message)
        let keys = try SessionKeys.derive(
            sharedSecret: shared,
            transcriptHash: Crypto.sha256(clientHello, serverHello),
            isClient: false
        )
        return (serverHello, keys)
    }

    /// Never shows key material.
    public var description: String { "ServerHandshake(identity: \(identity.fingerprint))" }
    /// `dump()` and debuggers never show the ephemeral or identity private key.
    public var customMirror: Mirror { Mirror(self, children: ["identity": identity.fingerprint.description]) }
}
