/// The AES-256-GCM keys and base IVs of one session, seen from one side: what it sends with and what it
/// receives with. The client sends with the c2s keys, the server with the s2c keys (PROTOCOL.md §1).
public struct SessionKeys: Sendable, CustomStringConvertible, CustomReflectable {
    /// 32-byte key for frames this side sends.
    public let sendKey: [UInt8]
    /// 12-byte base IV for frames this side sends.
    public let sendIV: [UInt8]
    /// 32-byte key for frames this side receives.
    public let receiveKey: [UInt8]
    /// 12-byte base IV for frames this side receives.
    public let receiveIV: [UInt8]

    /// - Parameters:
    ///   - sendKey: 32-byte key for outgoing frames.
    ///   - sendIV: 12-byte base IV for outgoing frames.
    ///   - receiveKey: 32-byte key for incoming frames.
    ///   - receiveIV: 12-byte base IV for incoming frames.
    public init(sendKey: [UInt8], sendIV: [UInt8], receiveKey: [UInt8], receiveIV: [UInt8]) {
        precondition(sendKey.count == 32 && receiveKey.count == 32, "AES-256 keys are 32 bytes")
        precondition(sendIV.count == 12 && receiveIV.count == 12, "GCM IVs are 12 bytes")
        self.sendKey = sendKey
        self.sendIV = sendIV
        self.receiveKey = receiveKey
        self.receiveIV = receiveIV
    }

    /// The same keys from the peer's point of view.
    public var reversed: SessionKeys {
        SessionKeys(sendKey: receiveKey, sendIV: receiveIV, receiveKey: sendKey, receiveIV: sendIV)
    }

    /// Never shows key material.
    public var description: String { "SessionKeys(<redacted>)" }
    /// `dump()` and debuggers never show key material.
    public var customMirror: Mirror { Mirror(self, children: [:]) }

    /// Derives both directions from the X25519 shared secret and the transcript hash.
    static func derive(
        sharedSecret: [UInt8],
        transcriptHash: [UInt8],
        isClient: Bool
    ) throws(ProtocolError)
        -> SessionKeys
    {
        func hkdf(_ info: String, _ count: Int) throws(ProtocolError) -> [UInt8] {
            try Crypto.hkdfSHA256(ikm: sharedSecret, salt: transcriptHash, info: info, count: count)
        }
        let c2sKey = try hkdf("tt c2s key", 32)
        let c2sIV = try hkdf("tt c2s iv", 12)
        let s2cKey = try hkdf("tt s2c key", 32)
        let s2cIV = try hkdf("tt s2c iv", 12)
        let client = SessionKeys(sendKey: c2sKey, sendIV: c2sIV, receiveKey: s2cKey, receiveIV: s2cIV)
        return isClient ? client : client.reversed
    }
}
