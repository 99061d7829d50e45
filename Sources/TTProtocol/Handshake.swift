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
            throw ProtocolError.badMagic.with(detail: "received \(printable(bytes.prefix(32)))")
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

    /// A short, printable rendering of unexpected bytes for error details (ASCII kept, the rest escaped).
    private static func printable(_ bytes: ArraySlice<UInt8>) -> String {
        var text = "\""
        for byte in bytes {
            switch byte {
            case 0x20..<0x7F where byte != 0x22 && byte != 0x5C: text.append(Character(Unicode.Scalar(byte)))
            case 0x0D: text += "\\r"
            case 0x0A: text += "\\n"
            default: text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return text + "\""
    }
}
