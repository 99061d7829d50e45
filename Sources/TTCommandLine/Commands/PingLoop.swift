import Glibc
import TTBasics
import TTClient
import TTCommandSupport
import TTTransport

/// What a run of pings found.
struct PingStatistics: Sendable {
    var transmitted = 0
    /// One entry per reply that came back.
    var roundTrips: [Duration] = []
    /// Each reply: its sequence number, round trip and size (for `--json`).
    var replies: [(sequence: Int, time: Duration, bytes: Int)] = []
    /// Each lost reply: its sequence number and why (for `--json`).
    var losses: [(sequence: Int, message: String)] = []
    /// Why the last lost reply was lost: its category decides the exit code when no reply came back.
    var lastFailure: FrameworkClientError?
    /// The server as the lines name it.
    var address = ""

    var received: Int { roundTrips.count }

    /// The TMSS10Ping summary lines.
    func summary(address: String) -> [String] {
        let loss = transmitted == 0 ? 0 : (transmitted - received) * 100 / transmitted
        var lines = [
            "--- \(address) TMSS10Ping statistics ---",
            "\(transmitted) packets transmitted, \(received) received, \(loss)% packet loss",
        ]
        if !roundTrips.isEmpty {
            let milliseconds = roundTrips.map(\.inMilliseconds)
            let average = milliseconds.reduce(0, +) / Double(milliseconds.count)
            lines.append(
                "round-trip min/avg/max = "
                    + [milliseconds.min()!, average, milliseconds.max()!].map(PingLoop.format).joined(separator: "/")
                    + " ms"
            )
        }
        return lines
    }
}

/// The ping loop of `tt-ping` and `tt-connect ping`: one Ping per interval, a TMSS10Ping line per reply (or per
/// lost reply), then the statistics.
enum PingLoop {
    /// Connects, pings `count` times and prints as TMSS10Ping does.
    /// - Throws: the client's error when the first connection cannot be made (nothing was sent then).
    /// - Parameters:
    ///   - count: pings to send; 0 pings until Ctrl-C (SIGINT), as ping(8) without `-c`.
    ///   - origin: where the route came from: each lost reply names it, as `check`'s failures do.
    ///   - printLines: `false` for `--json`, which prints one object at the end instead.
    static func run(
        _ client: FrameworkClient,
        origin: RouteOrigin,
        count: Int,
        interval: Duration,
        replyTimeout: Duration,
        printLines: Bool = true
    ) throws(FrameworkClientError) -> PingStatistics {
        // The text is only made when it is printed: `--json` prints no lines, and formatting them took about 5 %
        // of tt-ping's CPU.
        func line(_ text: @autoclosure () -> String) { if printLines { Console.line(text()) } }
        try client.connect()
        let address = displayAddress(client)
        var statistics = PingStatistics()
        statistics.address = address
        // Ctrl-C (SIGINT) stops the loop, which still prints its statistics, as ping(8) does.
        let interrupt: SignalWakeup
        do { interrupt = try SignalWakeup([SIGINT]) } catch {
            throw FrameworkClientError(stage: .request, category: .internalError, message: error.message)
        }
        var sequence = 0
        while count == 0 || sequence < count {
            sequence += 1
            if sequence > 1 ? interrupt.wait(upTo: interval) : interrupt.hasArrived { break }
            statistics.transmitted += 1
            let started = ContinuousClock.now
            do {
                // -W bounds the whole attempt, a reconnect included, and a reply later than -W is lost, as in
                // ping(8).
                try client.ping(within: replyTimeout)
                let elapsed = ContinuousClock.now - started
                guard elapsed <= replyTimeout else {
                    let message = "the reply came after \(format(elapsed.inMilliseconds)) ms, later than -W"
                    line("no reply from \(address): seq=\(sequence): \(message)")
                    statistics.losses.append((sequence, message))
                    statistics.lastFailure = FrameworkClientError(
                        stage: .request,
                        category: .timedOut,
                        message: message
                    )
                    continue
                }
                statistics.roundTrips.append(elapsed)
                statistics.replies.append((sequence, elapsed, client.lastExchangeSize.received))
                line(
                    "\(client.lastExchangeSize.received) bytes from \(address): seq=\(sequence) "
                        + "time=\(format(elapsed.inMilliseconds)) ms"
                )
            } catch {
                let message = origin.sourced(error.commandLineMessage)
                line("no reply from \(address): seq=\(sequence): \(message)")
                statistics.losses.append((sequence, message))
                statistics.lastFailure = error
            }
        }
        for text in statistics.summary(address: address) { line(text) }
        return statistics
    }

    /// The connected IP for a direct connection; the server as given through a proxy (only the proxy knows
    /// the server's address).
    static func displayAddress(_ client: FrameworkClient) -> String {
        let server = client.configuration.server
        if case .proxy = client.configuration.route { return server.host }
        // A PAC route went through a proxy when the report names one.
        if case .autoConfigured = client.configuration.route, client.report?.proxy != nil { return server.host }
        guard let connected = client.report?.connectedAddress,
            let endpoint = try? Endpoint(parsing: connected, defaultPort: server.port)
        else { return server.host }
        return endpoint.host
    }

    static func format(_ milliseconds: Double) -> String {
        NumberText.fixed(milliseconds, digits: 2)
    }
}
