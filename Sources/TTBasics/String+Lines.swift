extension String {
    /// The lines of a text file, split at every line feed: `LF` and `CR LF` line ends alike (a `CR` stays at the
    /// end of its line; ``Swift/StringProtocol/trimmingWhitespace()`` removes it). `split(separator: "\n")` does
    /// not split at `CR LF`, which Swift reads as one `Character`: a file saved with those line ends was one line.
    public var fileLines: [Substring] {
        unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { Substring($0) }
    }
}
