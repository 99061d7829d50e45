import Logging
import NIOConcurrencyHelpers

/// Records what a logger was given, so tests can assert that a session was closed with the right reason.
final class LogCapture: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
        /// When the line was logged: a test that notices it by polling, on a loaded machine, can be late by much.
        var time = ContinuousClock.now
    }

    private let entries = NIOLockedValueBox<[Entry]>([])

    /// A logger whose lines land here.
    var logger: Logger {
        var logger = Logger(label: "tt-server-test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    var all: [Entry] { entries.withLockedValue { $0 } }

    /// The `reason` of every "session closed" line.
    var closeReasons: [String] {
        all.filter { $0.message == "session closed" }.compactMap { $0.metadata["reason"] }
    }

    /// Waits (bounded) until a session-closed reason containing `text` has been logged.
    func waitForCloseReason(containing text: String, timeout: Duration = .seconds(10)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let reason = closeReasons.first(where: { $0.contains(text) }) { return reason }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// When the first session-closed line whose reason contains `text` was logged, if one was.
    func timeOfCloseReason(containing text: String) -> ContinuousClock.Instant? {
        all.first { $0.message == "session closed" && ($0.metadata["reason"] ?? "").contains(text) }?.time
    }

    fileprivate func append(_ entry: Entry) {
        entries.withLockedValue { $0.append(entry) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { $1 } }
            capture.append(
                Entry(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" })
            )
        }
    }
}
