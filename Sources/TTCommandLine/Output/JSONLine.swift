import FoundationEssentials
import TTBasics

/// One JSON object on one line, keys sorted, slashes as they are: what `--json` prints.
enum JSONLine {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The reports hold only strings, numbers and booleans, which always encode; `{}` keeps the output JSON.
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A duration as the reports' `*_ms` fields write it: milliseconds, to the microsecond.
    static func milliseconds(_ duration: Duration) -> Double {
        (duration.inMilliseconds * 1000).rounded() / 1000
    }
}
