/// A failure of the framework protocol: a peer that does not speak it, a frame that fails its checks, a packet
/// that does not parse, or a local identity or configuration problem.
///
/// Compare against the static members (`error == .badSignature`) or switch over ``kind`` to decide what to do;
/// new codes may be added without breaking callers. Descriptions never contain key material or passwords.
public struct ProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What a failure means for the connection, so callers can map it to their own outcomes.
    public enum Kind: Hashable, Sendable {
        /// The peer's hello is not the framework protocol (wrong magic or version, too short, bad signature,
        /// an unusable key): it is not a framework server or client.
        case notFrameworkPeer
        /// A frame was refused: its length is out of bounds or authentication failed (forged, replayed,
        /// reordered, truncated, wrong key). The connection must be closed.
        case frameRejected
        /// The compressed plaintext is corrupt or inflates beyond the limit (a decompression bomb).
        case decompression
        /// The decrypted, inflated bytes are not a valid packet (or login payload).
        case malformedPacket
        /// The server identity key file cannot be read, written or understood.
        case identity
        /// A value given by a user or configuration (fingerprint, password hash, packet field) is invalid.
        case invalidInput
        /// The crypto or compression library failed in a way no input explains.
        case `internal`
    }

    private enum Code: Hashable, Sendable {
        case badMagic
        case unsupportedVersion
        case truncatedHello
        case badSignature
        case invalidPeerKey
        case frameTooLarge
        case frameTooSmall
        case authenticationFailed
        case counterExhausted
        case inflatedSizeExceeded
        case corruptCompressedData
        case truncatedPacket
        case unknownPacketType
        case malformedLoginPayload
        case fieldTooLong
        case identityFileUnreadable
        case identityFileInvalid
        case identityFileUnwritable
        case invalidFingerprint
        case invalidPasswordHash
        case cryptoFailure
        case compressionFailure
    }

    private let code: Code
    /// Extra context for humans (a path, a size); not part of equality.
    public let detail: String?

    private init(_ code: Code, _ detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    public static func == (lhs: ProtocolError, rhs: ProtocolError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// The hello does not start with the `TTFW` magic (for example an HTTP answer).
    public static let badMagic = ProtocolError(.badMagic)
    /// The hello carries a protocol version this build does not speak.
    public static let unsupportedVersion = ProtocolError(.unsupportedVersion)
    /// The hello is not its fixed length (the peer closed early, or the caller passed the wrong bytes).
    public static let truncatedHello = ProtocolError(.truncatedHello)
    /// The server hello's signature does not verify with the identity key it carries.
    public static let badSignature = ProtocolError(.badSignature)
    /// The peer's ephemeral key is unusable (a low-order point giving an all-zero shared secret).
    public static let invalidPeerKey = ProtocolError(.invalidPeerKey)
    /// A frame length above `maxFrameSize`.
    public static let frameTooLarge = ProtocolError(.frameTooLarge)
    /// A frame length that cannot hold even the authentication tag.
    public static let frameTooSmall = ProtocolError(.frameTooSmall)
    /// A frame failed AES-GCM authentication: forged, replayed, reordered, truncated or sealed with another key.
    public static let authenticationFailed = ProtocolError(.authenticationFailed)
    /// The per-direction frame counter is used up; the session must be re-established.
    public static let counterExhausted = ProtocolError(.counterExhausted)
    /// The plaintext inflates beyond `maxInflatedSize`.
    public static let inflatedSizeExceeded = ProtocolError(.inflatedSizeExceeded)
    /// The plaintext is not valid gzip (corrupt, truncated, or followed by garbage).
    public static let corruptCompressedData = ProtocolError(.corruptCompressedData)
    /// A packet shorter than its header.
    public static let truncatedPacket = ProtocolError(.truncatedPacket)
    /// A packet whose type byte is neither request (1) nor response (2).
    public static let unknownPacketType = ProtocolError(.unknownPacketType)
    /// A login payload whose lengths do not match its size or whose text is not UTF-8.
    public static let malformedLoginPayload = ProtocolError(.malformedLoginPayload)
    /// A field too long for its length prefix (for example a user name over 65535 bytes).
    public static let fieldTooLong = ProtocolError(.fieldTooLong)
    /// The identity key file cannot be read.
    public static let identityFileUnreadable = ProtocolError(.identityFileUnreadable)
    /// The identity key file is not a PKCS#8 PEM Ed25519 private key.
    public static let identityFileInvalid = ProtocolError(.identityFileInvalid)
    /// The identity key file cannot be created or written.
    public static let identityFileUnwritable = ProtocolError(.identityFileUnwritable)
    /// A string that is not a `SHA256:<base64>` identity fingerprint.
    public static let invalidFingerprint = ProtocolError(.invalidFingerprint)
    /// A string that is not a `pbkdf2-sha256$<iterations>$<salt>$<hash>` password hash.
    public static let invalidPasswordHash = ProtocolError(.invalidPasswordHash)
    /// The crypto library failed unexpectedly.
    public static let cryptoFailure = ProtocolError(.cryptoFailure)
    /// The compression library failed unexpectedly.
    public static let compressionFailure = ProtocolError(.compressionFailure)

    /// The same error with context for humans (never a secret); the identity file code (TTServer) adds the path.
    package func with(detail: String) -> ProtocolError { ProtocolError(code, detail) }

    /// The classification of this error.
    public var kind: Kind {
        switch code {
        case .badMagic, .unsupportedVersion, .truncatedHello, .badSignature, .invalidPeerKey:
            .notFrameworkPeer
        case .frameTooLarge, .frameTooSmall, .authenticationFailed, .counterExhausted:
            .frameRejected
        case .inflatedSizeExceeded, .corruptCompressedData:
            .decompression
        case .truncatedPacket, .unknownPacketType, .malformedLoginPayload:
            .malformedPacket
        case .identityFileUnreadable, .identityFileInvalid, .identityFileUnwritable:
            .identity
        case .invalidFingerprint, .invalidPasswordHash, .fieldTooLong:
            .invalidInput
        case .cryptoFailure, .compressionFailure:
            .internal
        }
    }

    /// True when the peer's handshake shows it is not speaking the framework protocol.
    public var isHandshakeFailure: Bool { kind == .notFrameworkPeer }

    public var description: String {
        let base: String =
            switch code {
            case .badMagic: "the peer did not answer with the framework protocol magic 'TTFW'"
            case .unsupportedVersion: "the peer speaks an unsupported framework protocol version"
            case .truncatedHello: "the peer's handshake message is shorter (or longer) than the protocol's"
            case .badSignature: "the server's handshake signature does not verify"
            case .invalidPeerKey: "the peer sent an unusable key exchange key (all-zero shared secret)"
            case .frameTooLarge: "frame length exceeds the maximum frame size"
            case .frameTooSmall: "frame length is too small to hold the authentication tag"
            case .authenticationFailed:
                "frame failed authentication (forged, replayed, reordered, truncated or wrong key)"
            case .counterExhausted: "the frame counter is exhausted; reconnect to start a new session"
            case .inflatedSizeExceeded: "frame inflates beyond the maximum inflated size"
            case .corruptCompressedData: "frame plaintext is not valid gzip data"
            case .truncatedPacket: "packet is shorter than its header"
            case .unknownPacketType: "packet type is neither request nor response"
            case .malformedLoginPayload: "login payload is malformed"
            case .fieldTooLong: "field is too long for its length prefix"
            case .identityFileUnreadable: "cannot read the server identity key file"
            case .identityFileInvalid: "the server identity key file is not a PKCS#8 PEM Ed25519 private key"
            case .identityFileUnwritable: "cannot write the server identity key file"
            case .invalidFingerprint: "not an identity fingerprint of the form SHA256:<base64>"
            case .invalidPasswordHash: "not a password hash of the form pbkdf2-sha256$<iterations>$<salt>$<hash>"
            case .cryptoFailure: "the crypto library failed"
            case .compressionFailure: "the compression library failed"
            }
        guard let detail else { return base }
        return "\(base): \(detail)"
    }
}
