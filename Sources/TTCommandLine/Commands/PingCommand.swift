package import ArgumentParser
import TTClient
import TTCommandSupport

/// `tt-connect ping`: `tt-ping` with all of `tt-connect`'s options.
package struct PingCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Ping the server repeatedly and print TMSS10Ping-style lines and statistics."
    )

    @OptionGroup package var ping: PingOptions
    @OptionGroup package var proxy: ProxyOptions
    @OptionGroup package var server: ServerOptions
    @OptionGroup package var tls: TLSOptions
    @OptionGroup package var output: OutputOptions

    @Argument(help: ArgumentHelp("The framework server.", valueName: "HOST[:PORT]"))
    package var target: String?

    package init() {}

    package func run() throws {
        let plan: ConnectionPlan
        do {
            plan = try ConnectionSetup.plan(
                target: target,
                proxy: proxy,
                server: server,
                verbose: output.verbose,
                verbosity: output.verbosity,
                reconnect: .once,
                requestTimeout: ping.replyTimeoutDuration,
                tls: tls
            )
        } catch {
            if output.json {
                let usage = FrameworkClientError(stage: .serverConnect, category: .usage, message: error.message)
                Console.line(
                    PingReport.json(statistics: nil, failure: usage, exitCode: error.exitCode, server: target ?? "")
                )
                throw ExitCode(error.exitCode)
            }
            throw error
        }
        if output.verbose { Console.error(plan.routeReason) }
        try Self.pingLoop(plan, ping: ping, json: output.json)
    }

    /// Runs the shared loop with a client released before returning. When no reply came back, the exit code is
    /// that of the cause (docs/CLI.md, "Exit codes"): the failed connection, or the last lost reply. Failures
    /// name the route's source; the doctor hint (for a route not typed on the command line) is said once.
    static func pingLoop(_ plan: ConnectionPlan, ping: PingOptions, json: Bool = false) throws {
        let client = FrameworkClient(configuration: plan.configuration)
        let server = plan.configuration.server.description
        let statistics: PingStatistics
        do {
            statistics = try PingLoop.run(
                client,
                origin: plan.origin,
                count: ping.count,
                interval: ping.intervalDuration,
                replyTimeout: ping.replyTimeoutDuration,
                printLines: !json
            )
        } catch {
            let code = error.category.exitCode
            if json {
                Console.line(
                    PingReport.json(
                        statistics: nil,
                        failure: error,
                        exitCode: code,
                        server: server,
                        origin: plan.origin
                    )
                )
                throw ExitCode(code)
            }
            throw CommandFailure(exitCode: code, message: plan.origin.named(error.commandLineMessage))
        }
        let code: Int32 = statistics.received > 0 ? 0 : (statistics.lastFailure?.category.exitCode ?? 1)
        if json {
            Console.line(
                PingReport.json(
                    statistics: statistics,
                    failure: nil,
                    exitCode: code,
                    server: server,
                    origin: plan.origin
                )
            )
        } else if code != 0, statistics.lastFailure != nil, plan.origin.offersDoctor {
            throw CommandFailure(exitCode: code, message: "no reply came back; \(RouteOrigin.doctorHint)")
        }
        if code != 0 { throw ExitCode(code) }
    }
}
