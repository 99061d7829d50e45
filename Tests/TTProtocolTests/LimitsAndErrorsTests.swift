import TTProtocol
import Testing

@Suite("Limits and errors")
struct LimitsAndErrorsTests {
    @Test("The default limits are those of PROTOCOL.md section 4")
    func defaults() {
        let limits = ProtocolLimits.default
        #expect(limits.maxFrameSize == 16 * 1024 * 1024)
        #expect(limits.maxInflatedSize == 64 * 1024 * 1024)
        #expect(limits.handshakeTimeout == .seconds(10))
        #expect(limits.idleTimeout == .seconds(300))
        #expect(limits.maxConnections == 10_000)
    }

    @Test("Errors classify by kind, compare by code and carry readable descriptions")
    func classification() {
        let kinds: [(ProtocolError, ProtocolError.Kind)] = [
            (.badMagic, .notFrameworkPeer), (.unsupportedVersion, .notFrameworkPeer),
            (.truncatedHello, .notFrameworkPeer), (.badSignature, .notFrameworkPeer),
            (.invalidPeerKey, .notFrameworkPeer), (.frameTooLarge, .frameRejected), (.frameTooSmall, .frameRejected),
            (.authenticationFailed, .frameRejected), (.counterExhausted, .frameRejected),
            (.inflatedSizeExceeded, .decompression), (.corruptCompressedData, .decompression),
            (.truncatedPacket, .malformedPacket), (.unknownPacketType, .malformedPacket),
            (.malformedLoginPayload, .malformedPacket), (.identityFileUnreadable, .identity),
            (.identityFileInvalid, .identity), (.identityFileUnwritable, .identity),
            (.invalidFingerprint, .invalidInput), (.invalidPasswordHash, .invalidInput), (.fieldTooLong, .invalidInput),
            (.cryptoFailure, .internal), (.compressionFailure, .internal),
        ]
        for (error, kind) in kinds {
            #expect(error.kind == kind)
            #expect(error.isHandshakeFailure == (kind == .notFrameworkPeer))
            #expect(!error.description.isEmpty)
        }
        #expect(Set(kinds.map { $0.0.description }).count == kinds.count)
        #expect(ProtocolError.badMagic != ProtocolError.unsupportedVersion)
    }
}
