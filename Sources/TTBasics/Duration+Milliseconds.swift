extension Duration {
    /// The duration in milliseconds, with fractions, for printing.
    public var inMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    /// Whole milliseconds, the fraction dropped (rounded toward zero).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Whole milliseconds rounded up for a non-negative duration, so a timeout derived from it never ends before
    /// the duration has passed.
    public var wholeMillisecondsRoundedUp: Int64 {
        components.seconds * 1000 + (components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
