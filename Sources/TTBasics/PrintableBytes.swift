/// Bytes from a peer shown safely in a message or a log line.
///
/// A peer that is not what we expected (a web server, an SSH server, a TLS proxy) is recognised by its first
/// bytes, so messages show them; escaping keeps control bytes and quotes from garbling or forging the output.
public enum PrintableBytes {
    /// At most `limit` bytes with printable ASCII kept, `"` and `\` escaped with a backslash, CR, LF and tab as
    /// `\r`, `\n`, `\t`, any other byte as `\xNN`; `…` marks bytes left out.
    public static func escaped(_ bytes: some Sequence<UInt8>, limit: Int) -> String {
        var result = ""
        var shown = 0
        for byte in bytes {
            guard shown < limit else {
                result += "…"
                break
            }
            shown += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): result += "\\" + String(Unicode.Scalar(byte))
            case 0x20..<0x7F: result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "\r"): result += "\\r"
            case UInt8(ascii: "\n"): result += "\\n"
            case UInt8(ascii: "\t"): result += "\\t"
            default: result += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return result
    }

    /// ``escaped(_:limit:)`` in double quotes: `"HTTP/1.1 400 Bad Request\r\n…"`.
    public static func quoted(_ bytes: some Sequence<UInt8>, limit: Int) -> String {
        "\"" + escaped(bytes, limit: limit) + "\""
    }
}
