import TTBasics

/// One line of `tt-connect check`: `✓ proxy       0.4 ms  connected to 127.0.0.1:3128`.
struct StageLine: Sendable, Equatable {
    /// The stage as printed (`proxy`, `tunnel`, `server`, `handshake`, `login`, `ping`).
    var stage: String
    var ok: Bool
    var duration: Duration
    /// What was found, or on failure what went wrong and what to do.
    var detail: String

    var text: String {
        let name = stage.count >= 9 ? String(stage.prefix(9)) : stage + String(repeating: " ", count: 9 - stage.count)
        let time = Self.format(duration)
        return "\(ok ? "✓" : "✗") \(name) \(String(repeating: " ", count: max(0, 9 - time.count)))\(time)  \(detail)"
    }

    /// Milliseconds with one decimal below 10 s (`0.4 ms`, `1234.5 ms`), seconds with two above.
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.inMilliseconds
        return milliseconds < 10_000
            ? "\(NumberText.fixed(milliseconds, digits: 1)) ms"
            : "\(NumberText.fixed(milliseconds / 1000, digits: 2)) s"
    }
}
