package import ArgumentParser

/// Usage messages where ArgumentParser's own words mislead: `--timeout -1` is "Missing value" (the `-1` looks
/// like a flag to it), and a mistyped subcommand (`tt-connect chek HOST`) becomes check's target and then
/// "Unexpected argument".
package enum UsageWording {
    /// A clearer message for ArgumentParser's `message`, or `nil` to keep it.
    package static func message<Command: ParsableCommand>(
        for message: String,
        arguments: [String],
        of type: Command.Type
    ) -> String? {
        if message.hasPrefix("Missing value"), let negative = negativeValue(arguments) {
            return "\(negative.option) must be positive, not \(negative.value)"
        }
        if let word = arguments.first, !word.hasPrefix("-") {
            let names = type.configuration.subcommands.compactMap { $0.configuration.commandName }
            if !names.contains(word), let meant = closest(to: word, among: names) {
                return "'\(word)' is not a subcommand of \(type.configuration.commandName ?? "this tool"); "
                    + "did you mean \(meant)?"
            }
        }
        return nil
    }

    /// The first option followed by a negative number (`--timeout -1`, `-c -5`).
    static func negativeValue(_ arguments: [String]) -> (option: String, value: String)? {
        for (option, value) in zip(arguments, arguments.dropFirst())
        where option.hasPrefix("-") && Double(option) == nil && value.hasPrefix("-") && Double(value) != nil {
            return (option, value)
        }
        return nil
    }

    /// The name within two edits of `word` (`chek` → `check`), when exactly one is closest.
    static func closest(to word: String, among names: [String]) -> String? {
        guard word.count >= 3 else { return nil }
        let scored = names.map { (name: $0, distance: editDistance(word.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.distance < $1.distance }), best.distance <= 2,
            scored.filter({ $0.distance == best.distance }).count == 1
        else { return nil }
        return best.name
    }

    /// Levenshtein distance; both words are short (subcommand names).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
