import Glibc

/// Waiting on one descriptor with `poll(2)` against a ``Deadline``.
enum Poll {
    /// Waits until `descriptor` reports one of `events` (or an error or hang-up, which the next call surfaces).
    /// - Returns: `false` when the deadline passed first.
    static func wait(_ descriptor: Int32, for events: Int16, until deadline: Deadline) throws -> Bool {
        while true {
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let result = Glibc.poll(&entry, 1, deadline.pollTimeoutMilliseconds)
            if result > 0 { return true }
            if result == 0 {
                if deadline.hasPassed { return false }
                continue
            }
            if errno == EINTR { continue }
            throw TransportError(
                stage: .io,
                category: .internalError,
                message: "poll() failed: \(SystemError.describe(errno))"
            )
        }
    }
}

/// Human text for `errno` values.
enum SystemError {
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
