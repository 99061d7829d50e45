/// `--name value` options, each possibly repeated; enough for a driver that only scripts/soak calls.
struct Arguments {
    private var values: [String: [String]] = [:]

    init(_ words: ArraySlice<String>) throws(SoakError) {
        var words = words[...]
        while let word = words.popFirst() {
            guard word.hasPrefix("--"), let value = words.popFirst() else {
                throw SoakError("expected --name value, got '\(word)'")
            }
            values[String(word.dropFirst(2)), default: []].append(value)
        }
    }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    func string(_ name: String) throws(SoakError) -> String {
        guard let value = values[name]?.last else { throw SoakError("--\(name) is required") }
        return value
    }

    func number(_ name: String, default fallback: Double) throws(SoakError) -> Double {
        guard let text = values[name]?.last else { return fallback }
        guard let value = Double(text), value >= 0 else { throw SoakError("--\(name) must be a number, not \(text)") }
        return value
    }
}

/// A usage or setup error of the driver itself (not a finding of the soak).
struct SoakError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
