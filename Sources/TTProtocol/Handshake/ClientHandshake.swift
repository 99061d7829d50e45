/// The client side of the handshake: send ``hello``, then ``finish(serverHello:)`` with the 134 bytes received.
public struct ClientHandshake: Sendable, CustomStringConvertible, CustomReflectable {
    /// The 70-byte ClientHello to send.
    public let hello: [UInt8]
    private let ephemeralPrivateKey: [UInt8]

    /// A handshake with a fresh ephemeral key and random.
    public init() {
        // A random 32-byte string is a valid X25519 private key (X25519 clamps it).
        try! self.init(ephemeralPrivateKey: Crypto.randomBytes(32), random: Crypto.randomBytes(32))
    }

    /// A handshake with a fresh ephemeral key and a random whose last two bytes are CR LF (30 random bytes remain).
    ///
    /// Proxies that decrypt TLS and parse HTTP inside it (squid `ssl_bump bump`) read a request line up to its line
    /// feed before they decide the bytes are not HTTP and apply `on_unsupported_protocol`. Without a line feed in
    /// the 70 bytes they wait for more, while client and server wait for each other until a timeout. The random is
    /// only mixed into the transcript hash, so two fixed bytes cost nothing the 240 random bits left do not cover.
    public static func endingInLineBreak() -> ClientHandshake {
        var random = Crypto.randomBytes(32)
        random[30] = 0x0D
        random[31] = 0x0A
        return try! ClientHandshake(ephemeralPrivateKey: Crypto.randomBytes(32), random: random)
    }

    /// A handshake with a given ephemeral key and random (test vectors).
    /// - Parameters:
    ///   - ephemeralPrivateKey: Raw 32-byte X25519 private key.
    ///   - random: 32-byte client random.
    public init(ephemeralPrivateKey: [UInt8], random: [UInt8]) throws(ProtocolError) {
        guard ephemeralPrivateKey.count == 32, random.count == 32 else {
            throw ProtocolError.cryptoFailure.with(detail: "ephemeral key and random must be 32 bytes")
        }
        self.ephemeralPrivateKey = ephemeralPrivateKey
        hello = Handshake.header() + (try Crypto.x25519PublicKey(privateKey: ephemeralPrivateKey)) + random
    }

    /// Checks the ServerHello and derives the session keys.
    ///
    /// The caller still has to compare `serverIdentity` with a pinned key, if it has one.
    /// - Returns: This side's session keys and the server's identity public key (signature verified).
    /// - Throws: ``ProtocolError`` of kind `.notFrameworkPeer`: ``ProtocolError/badMagic``,
    ///   ``ProtocolError/unsupportedVersion``, ``ProtocolError/truncatedHello``, ``ProtocolError/badSignature``,
    ///   ``ProtocolError/invalidPeerKey``.
    public func finish(
        serverHello: [UInt8]
    ) throws(ProtocolError)
        -> (keys: SessionKeys, serverIdentity: IdentityPublicKey)
    {
        try Handshake.validate(serverHello, size: Handshake.serverHelloSize)
        let serverEphemeral = Array(serverHello[6..<38])
        let identity = try IdentityPublicKey(rawRepresentation: Array(serverHello[38..<70]))
        let message = Handshake.signedMessage(clientHello: hello, serverHelloPrefix: serverHello[0..<70])
        guard
            Crypto.ed25519Verify(
                publicKey: identity.rawRepresentation,
                message: message,
                signature: Array(serverHello[70..<134])
            )
        else { throw ProtocolError.badSignature }
        let shared = try Crypto.x25519SharedSecret(privateKey: ephemeralPrivateKey, peerPublicKey: serverEphemeral)
        let keys = try SessionKeys.derive(
            sharedSecret: shared,
            transcriptHash: Crypto.sha256(hello, serverHello),
            isClient: true
        )
        return (keys, identity)
    }

    /// Never shows the ephemeral private key.
    public var description: String { "ClientHandshake(<redacted>)" }
    /// `dump()` and debuggers never show the ephemeral private key.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
