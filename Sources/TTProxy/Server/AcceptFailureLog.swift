import Glibc
import NIOCore
import Synchronization

/// Reports failing `accept` calls (EMFILE, ENFILE…) at most once per interval, with a count of the rest, so a
/// proxy at its descriptor limit says so without flooding its log.
final class AcceptFailureLog: Sendable {
    /// How long a listener pauses accepting after a failure: short enough to serve again soon after descriptors
    /// free up, long enough that a full descriptor table costs next to no CPU.
    static let backoff = TimeAmount.milliseconds(500)
    private static let interval = Duration.seconds(10)

    private struct State {
        var lastReport: ContinuousClock.Instant?
        var suppressed = 0
    }

    private let sink: @Sendable (String) -> Void
    private let state = Mutex(State())

    init(sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    func record(_ error: IOError, listener: SocketAddress?) {
        let now = ContinuousClock.now
        let suppressed: Int? = state.withLock { state in
            if let last = state.lastReport, now - last < Self.interval {
                state.suppressed += 1
                return nil
            }
            defer {
                state.lastReport = now
                state.suppressed = 0
            }
            return state.suppressed
        }
        guard let suppressed else { return }
        let reason = String(cString: strerror(error.errnoCode))
        let name = Self.errnoName(error.errnoCode).map { " (\($0))" } ?? ""
        let more = suppressed > 0 ? "; \(suppressed) more failures since the last report" : ""
        sink(
            "tt-proxy: cannot accept connections on \(listener?.logDescription ?? "a listener"): \(reason)\(name); "
                + "pausing accepts for \(Self.backoff.nanoseconds / 1_000_000) ms at a time\(more)"
        )
    }

    private static func errnoName(_ code: Int32) -> String? {
        switch code {
        case EMFILE: "EMFILE, raise the descriptor limit or lower --max-connections"
        case ENFILE: "ENFILE, the system-wide descriptor table is full"
        case ENOBUFS, ENOMEM: "out of kernel memory"
        default: nil
        }
    }
}
