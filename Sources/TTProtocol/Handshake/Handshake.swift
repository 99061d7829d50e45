import TTBasics

/// Constants and checks shared by the two sides of the handshake (PROTOCOL.md §1).
public enum Handshake {
    /// `TTFW`.
    public static let magic: [UInt8] = [0x54, 0x54, 0x46, 0x57]
    /// The protocol version this build speaks.
    public static let version: UInt16 = 1
    /// Bytes of a ClientHello.
    public static let clientHelloSize = 70
    /// Bytes of a ServerHello.
    public static let serverHelloSize = 134

    /// Prefix of the signed message: `"TTFW v1 server signature"`.
    static let signatureContext = Array("TTFW v1 server signature".utf8)

    /// Checks the magic and version in however many leading bytes of a hello have arrived, so a reader can
    /// reject a peer that is not speaking the protocol (for example `HTTP/1.1 …`) before the whole hello.
    /// - Throws: ``ProtocolError/badMagic`` or ``ProtocolError/unsupportedVersion``.
    public static func validatePrefix(_ bytes: [UInt8]) throws(ProtocolError) {
        for (index, byte) in bytes.prefix(magic.count).enumerated() where byte != magic[index] {
            throw ProtocolError.badMagic.with(detail: "received \(PrintableBytes.quoted(bytes, limit: 32))")
        }
        if bytes.count >= 6 {
            let version = UInt16(bytes[4]) << 8 | UInt16(bytes[5])
            guard version == Self.version else {
                throw ProtocolError.unsupportedVersion.with(detail: "peer version \(version), ours \(Self.version)")
            }
        }
    }

    /// Validates magic, version and exact length of a hello.
    static func validate(_ hello: [UInt8], size: Int) throws(ProtocolError) {
        try validatePrefix(hello)
        guard hello.count == size else {
            throw ProtocolError.truncatedHello.with(detail: "\(hello.count) bytes, expected \(size)")
        }
    }

    static func header() -> [UInt8] {
        var bytes = magic
        bytes.appendBigEndian(version)
        return bytes
    }

    /// The message the server signs: context string and SHA-256 of ClientHello || ServerHello[0..<70].
    static func signedMessage(clientHello: [UInt8], serverHelloPrefix: ArraySlice<UInt8>) -> [UInt8] {
        signatureContext + Crypto.sha256(clientHello, Array(serverHelloPrefix))
    }
}
