import FoundationEssentials

/// Standard base64 (RFC 4648 §4), as fingerprints and password hashes print it.
enum Base64 {
    static func encode(_ bytes: [UInt8], padded: Bool = true) -> String {
        let text = Data(bytes).base64EncodedString()
        return padded ? text : String(text.prefix { $0 != "=" })
    }

    /// Decodes padded or unpadded standard base64; nil for anything else.
    static func decode(_ text: Substring) -> [UInt8]? {
        var padded = String(text)
        if padded.count % 4 != 0 {
            padded += String(repeating: "=", count: 4 - padded.count % 4)
        }
        return Data(base64Encoded: padded).map { [UInt8]($0) }
    }
}
