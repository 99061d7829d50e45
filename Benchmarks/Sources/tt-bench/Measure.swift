import Glibc

/// Timing and the `NAME VALUE` output every figure goes through.
enum Measure {
    private static let clock = ContinuousClock()

    /// Wall-clock seconds `body` takes.
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = clock.now
        try body()
        return (clock.now - start).seconds
    }

    /// CPU seconds the calling thread spends in `body`: time the scheduler gives to other processes on a
    /// shared machine is not counted, so single-threaded Swift and C loops compare fairly under load.
    static func cpuSeconds(_ body: () throws -> Void) rethrows -> Double {
        let start = threadCPUTime()
        try body()
        return threadCPUTime() - start
    }

    /// Wall-clock or thread CPU seconds of `body`.
    static func time(wallClock: Bool, _ body: () throws -> Void) rethrows -> Double {
        wallClock ? try seconds(body) : try cpuSeconds(body)
    }

    private static func threadCPUTime() -> Double { cpuTime(CLOCK_THREAD_CPUTIME_ID) }

    /// User and system CPU seconds of the whole process so far, every thread counted.
    static func processCPUTime() -> Double { cpuTime(CLOCK_PROCESS_CPUTIME_ID) }

    private static func cpuTime(_ clock: clockid_t) -> Double {
        var now = timespec()
        clock_gettime(clock, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Prints one figure line, `NAME VALUE`, with a precision that suits the value.
    static func report(_ name: String, _ value: Double) {
        let digits = abs(value) >= 100 ? 1 : abs(value) >= 1 ? 3 : 4
        print("\(name) \(format(value, digits: digits))")
    }

    static func format(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "nan" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        var fraction = String(Int(scaled) - whole * Int(scale))
        while fraction.count < digits { fraction = "0" + fraction }
        return (value < 0 ? "-" : "") + (digits == 0 ? "\(whole)" : "\(whole).\(fraction)")
    }

    static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median of nothing")
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
