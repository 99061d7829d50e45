extension StringProtocol {
    /// The text without leading and trailing whitespace (including newlines).
    public func trimmingWhitespace() -> Substring {
        trimming { $0.isWhitespace }
    }

    /// The text without the leading and trailing characters for which `isTrimmed` holds: `"\"x\""` → `x` for
    /// `{ $0 == "\"" }`.
    public func trimming(_ isTrimmed: (Character) -> Bool) -> Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { !isTrimmed($0) }),
            let last = text.lastIndex(where: { !isTrimmed($0) })
        else { return "" }
        return text[first...last]
    }
}
