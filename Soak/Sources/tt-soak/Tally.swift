import Foundation
import Synchronization
import TTProtocol

/// What happened to every request, per route, shared by the client threads.
final class Tally: Sendable {
    private struct Counts {
        var requests = 0
        var answered = 0
        var retried = 0
        var lost = 0
        var reported = 0
        /// The longest an idempotent request took to be answered, retries included.
        var slowest: Duration = .zero
    }

    private struct State {
        var routes: [String: Counts] = [:]
        var lostDetails: [String] = []
        /// `ID FUNCTION ROUTE OUTCOME` for every Login and Logout sent.
        var ledger: [String] = []
    }

    private let state = Mutex(State())

    /// An idempotent request answered right, after `retries` failed attempts and `duration` in all.
    func answered(route: String, retries: Int, duration: Duration) {
        state.withLock { state in
            state.routes[route, default: Counts()].slowest = max(
                state.routes[route, default: Counts()].slowest,
                duration
            )
            state.routes[route, default: Counts()].requests += 1
            state.routes[route, default: Counts()].answered += 1
            if retries > 0 { state.routes[route, default: Counts()].retried += 1 }
        }
    }

    /// A request never answered within its retry window, or answered wrong.
    func lost(route: String, _ detail: String) {
        state.withLock { state in
            state.routes[route, default: Counts()].requests += 1
            state.routes[route, default: Counts()].lost += 1
            state.lostDetails.append("\(route): \(detail)")
        }
    }

    /// A non-idempotent request and what the client library said about it (an error is reported, not lost).
    func nonIdempotent(route: String, request: RequestPacket, outcome: String) {
        let oneLine = outcome.split(whereSeparator: \.isNewline).joined(separator: " ")
        state.withLock { state in
            state.routes[route, default: Counts()].requests += 1
            if oneLine.hasPrefix("answered") {
                state.routes[route, default: Counts()].answered += 1
            } else {
                state.routes[route, default: Counts()].reported += 1
            }
            state.ledger.append("\(request.optArgs) \(request.function) \(route) \(oneLine)")
        }
    }

    func writeLedger(to path: String) throws {
        let lines = state.withLock { $0.ledger }
        try (lines.map { $0 + "\n" }.joined()).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `NAME VALUE` lines: totals first, then per route, then up to 20 lost requests.
    func summary() -> String {
        state.withLock { state in
            var total = Counts()
            var lines: [String] = []
            for (name, counts) in state.routes.sorted(by: { $0.key < $1.key }) {
                total.requests += counts.requests
                total.answered += counts.answered
                total.retried += counts.retried
                total.lost += counts.lost
                total.reported += counts.reported
                total.slowest = max(total.slowest, counts.slowest)
                lines.append(
                    "route \(name) requests=\(counts.requests) answered=\(counts.answered) retried=\(counts.retried) "
                        + "reported=\(counts.reported) lost=\(counts.lost) slowest=\(Self.seconds(counts.slowest))s"
                )
            }
            lines.insert(
                contentsOf: [
                    "requests \(total.requests)", "answered \(total.answered)", "retried \(total.retried)",
                    "reported \(total.reported)", "lost \(total.lost)", "slowest \(Self.seconds(total.slowest))",
                ],
                at: 0
            )
            lines += state.lostDetails.prefix(20).map { "lost-request \($0)" }
            return lines.map { $0 + "\n" }.joined()
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.2f", Double(seconds) + Double(attoseconds) / 1e18)
    }
}
