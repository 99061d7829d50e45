import Glibc

/// Numbers as the tools print them (`12.34`, `07`, `1F`), without `String(format:)`, which lives in full
/// Foundation and would pull its ICU data into every static binary.
public enum NumberText {
    /// `value` with exactly `digits` digits after the point, rounded as `printf("%.*f")` rounds: `0.40`, `1234.5`.
    public static func fixed(_ value: Double, digits: Int) -> String {
        // printf's own conversion: exact decimal rounding of the binary value, which Swift's description lacks.
        var buffer = [CChar](repeating: 0, count: 64)
        let count = withVaList([Int32(max(0, min(digits, 17))), value]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%.*f", arguments) }
        }
        guard count >= 0, Int(count) < buffer.count else { return "\(value)" }
        return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `value` in base `radix` (upper-case letters), left-padded with zeros to at least `width` digits: `07`, `0A`.
    public static func zeroPadded(_ value: some BinaryInteger, width: Int, radix: Int = 10) -> String {
        let digits = String(value.magnitude, radix: radix, uppercase: true)
        let padding = String(repeating: "0", count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + padding + digits
    }
}
