import Foundation
import TTBasics
import TTClient

/// The single JSON object of `tt-connect ping --json`: what the lines and statistics say, machine-readable.
enum PingReport {
    /// The report of a run; `failure` is the connection failure that stopped it before any ping, if any.
    static func json(
        statistics: PingStatistics?,
        failure: FrameworkClientError?,
        exitCode: Int32,
        server: String
    ) -> String {
        func rounded(_ duration: Duration) -> Double { (duration.inMilliseconds * 1000).rounded() / 1000 }
        var object: [String: Any] = [
            "ok": exitCode == 0,
            "exit_code": Int(exitCode),
            "server": server,
            "stage": failure.map { CheckCommand.stageName($0.stage) } ?? NSNull(),
            "message": failure?.commandLineMessage ?? statistics?.lastFailure?.commandLineMessage ?? NSNull(),
        ]
        if let statistics {
            object["address"] = statistics.address
            object["transmitted"] = statistics.transmitted
            object["received"] = statistics.received
            object["loss_percent"] =
                statistics.transmitted == 0
                ? 0 : (statistics.transmitted - statistics.received) * 100 / statistics.transmitted
            object["replies"] = statistics.replies.map { reply -> [String: Any] in
                ["seq": reply.sequence, "time_ms": rounded(reply.time), "bytes": reply.bytes]
            }
            object["lost"] = statistics.losses.map { loss -> [String: Any] in
                ["seq": loss.sequence, "message": loss.message]
            }
            let times = statistics.roundTrips
            if let shortest = times.min(), let longest = times.max() {
                let average = times.reduce(Duration.zero, +) / times.count
                object["rtt_ms"] = ["min": rounded(shortest), "avg": rounded(average), "max": rounded(longest)]
            } else {
                object["rtt_ms"] = NSNull()
            }
        }
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
