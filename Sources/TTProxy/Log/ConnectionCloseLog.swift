import NIOCore
import Synchronization
import TTBasics

/// Says why a connection ended on an error (a reset, a failed read or write), at most ``linesPerSecond`` lines a
/// second with a count of the rest, so that a flood of resets cannot flood the log; the lines go to
/// ``ProxyServerConfiguration/eventLog``.
final class ConnectionCloseLog: Sendable {
    static let linesPerSecond = 20

    private struct State {
        var windowStart: ContinuousClock.Instant?
        var lines = 0
        var suppressed = 0
    }

    private let sink: @Sendable (String) -> Void
    private let state = Mutex(State())

    init(sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    /// Logs that `channel`'s connection is closed because of `error`; `what` names the side (`client`, `target`).
    func record(_ error: any Error, what: String, channel: any Channel) {
        record(
            reason: SystemErrorText.describe(error),
            what: what,
            peer: channel.remoteAddress?.logDescription ?? "an unknown address"
        )
    }

    /// Logs that the connection with `peer` is closed for `reason` (the system's words for the error).
    func record(reason: String, what: String, peer: String) {
        let now = ContinuousClock.now
        let suppressed: Int? = state.withLock { state in
            if let start = state.windowStart, now - start < .seconds(1) {
                guard state.lines < Self.linesPerSecond else {
                    state.suppressed += 1
                    return nil
                }
                state.lines += 1
                return 0
            }
            defer { state = State(windowStart: now, lines: 1, suppressed: 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        let more = suppressed > 0 ? " (\(suppressed) similar lines suppressed)" : ""
        sink("tt-proxy: closing the \(what) connection with \(peer): \(reason)\(more)")
    }
}
