import TTBasics

/// A point in monotonic time by which an operation must finish.
///
/// Every blocking call of the transport layer takes one deadline for the whole operation rather than a
/// timeout per system call, so a slow peer cannot stretch an operation by answering just in time, many times.
///
/// Inlinable: every request computes and compares deadlines several times; as calls into this module (through
/// Optional's value witnesses) they were a measurable part of a ping's CPU (BENCHMARKS.md, async client).
public struct Deadline: Sendable, Hashable, Comparable {
    @usableFromInline let instant: ContinuousClock.Instant?

    @usableFromInline init(instant: ContinuousClock.Instant?) {
        self.instant = instant
    }

    /// A deadline at `instant` of the continuous (monotonic) clock.
    @inlinable
    public init(_ instant: ContinuousClock.Instant) {
        self.instant = instant
    }

    /// A deadline that never passes.
    public static let never = Deadline(instant: nil)

    /// A deadline `duration` from now.
    @inlinable
    public static func after(_ duration: Duration) -> Deadline {
        Deadline(instant: ContinuousClock.now.advanced(by: duration))
    }

    /// Whether the deadline is in the past.
    @inlinable
    public var hasPassed: Bool {
        guard let instant else { return false }
        return ContinuousClock.now >= instant
    }

    /// Time left until the deadline (zero once it has passed), or `nil` for ``never``.
    @inlinable
    public var remaining: Duration? {
        guard let instant else { return nil }
        return max(.zero, ContinuousClock.now.duration(to: instant))
    }

    /// The remaining time as a `poll(2)` timeout: `-1` for ``never``, rounded up to whole milliseconds so a
    /// wait never returns just before the deadline and spins.
    var pollTimeoutMilliseconds: Int32 {
        guard let remaining else { return -1 }
        return Int32(clamping: remaining.wholeMillisecondsRoundedUp)
    }

    @inlinable
    public static func < (lhs: Deadline, rhs: Deadline) -> Bool {
        switch (lhs.instant, rhs.instant) {
        case (nil, _): return false
        case (_, nil): return true
        case (let left?, let right?): return left < right
        }
    }
}
