import TTClient

/// The single JSON object of `tt-connect ping --json`: what the lines and statistics say, machine-readable.
enum PingReport {
    /// The report of a run; `failure` is the connection failure that stopped it before any ping, if any.
    /// - Parameter origin: the route's source, named in the message as `check` names it (`nil` before a route
    ///   was chosen).
    static func json(
        statistics: PingStatistics?,
        failure: FrameworkClientError?,
        exitCode: Int32,
        server: String,
        origin: RouteOrigin? = nil
    ) -> String {
        let message = failure?.commandLineMessage ?? statistics?.lastFailure?.commandLineMessage
        return JSONLine.encode(
            Report(
                ok: exitCode == 0,
                exitCode: Int(exitCode),
                server: server,
                stage: failure.map { CheckCommand.stageName($0.stage) },
                message: message.map { origin?.named($0) ?? $0 },
                statistics: statistics
            )
        )
    }

    /// The object's fields; what is unknown is `null`, and the statistics' fields are absent when no ping ran.
    private struct Report: Encodable {
        var ok: Bool
        var exitCode: Int
        var server: String
        var stage: String?
        var message: String?
        var statistics: PingStatistics?

        private enum Key: String, CodingKey {
            case ok, server, stage, message, address, transmitted, received, replies, lost
            case exitCode = "exit_code"
            case lossPercent = "loss_percent"
            case roundTrip = "rtt_ms"
        }

        private struct Reply: Encodable {
            var seq: Int
            var timeMilliseconds: Double
            var bytes: Int

            private enum CodingKeys: String, CodingKey {
                case seq, bytes
                case timeMilliseconds = "time_ms"
            }
        }

        private struct Loss: Encodable {
            var seq: Int
            var message: String
        }

        private struct RoundTrip: Encodable {
            var min: Double
            var avg: Double
            var max: Double
        }

        func encode(to encoder: any Encoder) throws {
            var object = encoder.container(keyedBy: Key.self)
            try object.encode(ok, forKey: .ok)
            try object.encode(exitCode, forKey: .exitCode)
            try object.encode(server, forKey: .server)
            // Optionals encoded as such: `null`, not an absent key.
            try object.encode(stage, forKey: .stage)
            try object.encode(message, forKey: .message)
            guard let statistics else { return }
            try object.encode(statistics.address, forKey: .address)
            try object.encode(statistics.transmitted, forKey: .transmitted)
            try object.encode(statistics.received, forKey: .received)
            let transmitted = statistics.transmitted
            let lossPercent = transmitted == 0 ? 0 : (transmitted - statistics.received) * 100 / transmitted
            try object.encode(lossPercent, forKey: .lossPercent)
            let replies = statistics.replies.map {
                Reply(seq: $0.sequence, timeMilliseconds: JSONLine.milliseconds($0.time), bytes: $0.bytes)
            }
            try object.encode(replies, forKey: .replies)
            try object.encode(statistics.losses.map { Loss(seq: $0.sequence, message: $0.message) }, forKey: .lost)
            let times = statistics.roundTrips
            var roundTrip: RoundTrip?
            if let shortest = times.min(), let longest = times.max() {
                let average = times.reduce(Duration.zero, +) / times.count
                roundTrip = RoundTrip(
                    min: JSONLine.milliseconds(shortest),
                    avg: JSONLine.milliseconds(average),
                    max: JSONLine.milliseconds(longest)
                )
            }
            try object.encode(roundTrip, forKey: .roundTrip)
        }
    }
}
