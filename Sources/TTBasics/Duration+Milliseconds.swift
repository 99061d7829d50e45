extension Duration {
    /// The duration in milliseconds, with fractions, for printing.
    public var inMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    /// The duration as people read it in a message: `0.1 ms`, `2.5 ms` (a tenth counts below 10 ms, so a 1 ms
    /// deadline never reads as "0 ms" or "2 ms"), `491 ms`, `1.5 s`.
    public var readable: String {
        let milliseconds = inMilliseconds
        if milliseconds < 10 { return "\((milliseconds * 10).rounded() / 10) ms" }
        if milliseconds < 1000 { return "\(Int(milliseconds.rounded())) ms" }
        return "\((milliseconds / 100).rounded() / 10) s"
    }

    /// Whole milliseconds, the fraction dropped (rounded toward zero); `Int64.max` (or `.min`) for a duration
    /// beyond it.
    public var wholeMilliseconds: Int64 {
        Self.milliseconds(components.seconds, plus: components.attoseconds / 1_000_000_000_000_000)
    }

    /// Whole milliseconds rounded up for a non-negative duration, so a timeout derived from it never ends before
    /// the duration has passed; `Int64.max` for a duration beyond it.
    public var wholeMillisecondsRoundedUp: Int64 {
        Self.milliseconds(
            components.seconds,
            plus: (components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        )
    }

    /// `seconds × 1000 + extra`, held at Int64's bounds instead of overflowing: a library caller's deadline may
    /// be centuries away (`.after(.seconds(Int64.max / 2))`), and every timeout is derived through here.
    private static func milliseconds(_ seconds: Int64, plus extra: Int64) -> Int64 {
        let (product, productOverflow) = seconds.multipliedReportingOverflow(by: 1000)
        if productOverflow { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = product.addingReportingOverflow(extra)
        if sumOverflow { return extra < 0 ? .min : .max }
        return sum
    }
}
