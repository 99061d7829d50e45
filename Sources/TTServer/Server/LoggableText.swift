/// Peer-chosen text made safe for a log line: at most ``maxCharacters`` characters, every control, format or
/// otherwise invisible character escaped (`\n`, `\u{202E}` …), so a peer can neither forge log lines nor flood
/// the log — and a password typed into the user field shows only its beginning.
enum LoggableText {
    static let maxCharacters = 64

    static func sanitize(_ text: String) -> String {
        var result = ""
        var shown = 0
        for scalar in text.unicodeScalars {
            let piece = isPrintable(scalar) ? String(scalar) : escape(scalar)
            guard shown + piece.count <= maxCharacters else {
                return result + "… (\(text.utf8.count) bytes)"
            }
            result += piece
            shown += piece.count
        }
        return result
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return scalar != "\\"
        }
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        case "\\": "\\\\"
        default: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        }
    }
}
