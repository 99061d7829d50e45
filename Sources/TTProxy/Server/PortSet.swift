/// The set of target ports a proxy tunnels to, parsed from `443,5000-5010` style lists.
public struct PortSet: Sendable, Hashable, CustomStringConvertible {
    private var ranges: [ClosedRange<Int>]

    /// Every port, 1–65535.
    public static let all = PortSet(ranges: [1...65535])

    private init(ranges: [ClosedRange<Int>]) {
        self.ranges = ranges
    }

    /// Parses a comma-separated list of ports and inclusive ranges (`443,8443,5000-5010`).
    public init(parsing text: String) throws(PortSetError) {
        var ranges: [ClosedRange<Int>] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = item.trimmingCharacters(in: " ")
            let bounds = trimmed.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]),
                (1...65535).contains(low), (1...65535).contains(high), low <= high
            else { throw PortSetError(item: String(trimmed)) }
            ranges.append(low...high)
        }
        self.ranges = ranges
    }

    /// Whether `port` is in the set.
    public func contains(_ port: Int) -> Bool {
        ranges.contains { $0.contains(port) }
    }

    public var description: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }
}

/// A port list item that is not a port (1–65535) or an ascending range of ports.
public struct PortSetError: Error, CustomStringConvertible {
    /// The offending item.
    public var item: String
    public var description: String {
        "invalid port list item '\(item)': expected a port 1-65535 or a range like 5000-5010, separated by commas"
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in character: Character) -> Substring {
        var result = self
        while result.first == character { result.removeFirst() }
        while result.last == character { result.removeLast() }
        return result
    }
}
