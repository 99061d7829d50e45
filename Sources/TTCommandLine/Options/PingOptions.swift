package import ArgumentParser

/// `-c`, `-i`, `-W` of `tt-ping` and `tt-connect ping`.
package struct PingOptions: ParsableArguments, Sendable {
    @Option(name: .customShort("c"), help: ArgumentHelp("Number of pings; 0 pings until Ctrl-C.", valueName: "COUNT"))
    package var count = 4

    @Option(name: .customShort("i"), help: ArgumentHelp("Seconds between pings.", valueName: "INTERVAL"))
    package var interval: Double = 1

    @Option(
        name: .customShort("W"),
        help: ArgumentHelp(
            "Seconds to wait for each reply, a reconnect included; a later reply counts as lost.",
            valueName: "TIMEOUT"
        )
    )
    package var replyTimeout: Double = 5

    package init() {}

    package func validate() throws {
        guard (0...1_000_000).contains(count) else {
            throw ValidationError("-c must be from 0 (until Ctrl-C) to 1000000, not \(count)")
        }
        guard interval >= 0, interval <= 3600 else {
            throw ValidationError("-i must be from 0 to 3600 seconds, not \(interval)")
        }
        guard replyTimeout > 0, replyTimeout <= 3600 else {
            throw ValidationError("-W must be above 0 and at most 3600 seconds, not \(replyTimeout)")
        }
    }

    var intervalDuration: Duration { .milliseconds(Int64((interval * 1000).rounded())) }
    var replyTimeoutDuration: Duration { .milliseconds(Int64((replyTimeout * 1000).rounded())) }
}
