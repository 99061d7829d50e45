import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Caps the log lines peers can cause: at most so many lines of one message per second. What it drops is
/// counted and reported with the next line of that message that gets through (`suppressed similar lines`), so a
/// flood of bad logins or broken sessions costs the log a few lines a second, not thousands, and is still visible.
final class LogLimiter: Sendable {
    private struct Window {
        var start: NIODeadline
        var count = 0
        var suppressed = 0
    }

    private let perSecond: Int
    private let windows = NIOLockedValueBox<[String: Window]>([:])

    /// - Parameter perSecond: Lines per message and second; 0 or less turns limiting off.
    init(perSecond: Int) {
        self.perSecond = perSecond
    }

    /// Logs `message` unless its quota for this second is used up.
    func log(
        _ logger: Logger,
        level: Logger.Level,
        _ message: String,
        metadata: Logger.Metadata = [:],
        perSecond limit: Int? = nil
    ) {
        guard logger.logLevel <= level else { return }
        guard let suppressed = admit(message, limit: limit ?? perSecond) else { return }
        if suppressed > 0 {
            logger.log(
                level: level,
                "suppressed similar log lines",
                metadata: ["message": "\(message)", "suppressed": "\(suppressed)"]
            )
        }
        logger.log(level: level, "\(message)", metadata: metadata)
    }

    /// - Returns: `nil` when the line must be dropped, otherwise how many lines of `message` were dropped since
    ///   the last one that got through.
    private func admit(_ message: String, limit: Int) -> Int? {
        guard limit > 0 else { return 0 }
        let now = NIODeadline.now()
        return windows.withLockedValue { windows in
            var window = windows[message] ?? Window(start: now)
            if now - window.start >= .seconds(1) {
                window.start = now
                window.count = 0
            }
            guard window.count < limit else {
                window.suppressed += 1
                windows[message] = window
                return nil
            }
            window.count += 1
            let suppressed = window.suppressed
            window.suppressed = 0
            windows[message] = window
            return suppressed
        }
    }
}
