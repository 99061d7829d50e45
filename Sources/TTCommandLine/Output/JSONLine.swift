import FoundationEssentials

/// One JSON object on one line, keys sorted, slashes as they are: what `--json` prints.
enum JSONLine {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The reports hold only strings, numbers and booleans, which always encode; `{}` keeps the output JSON.
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
