public import ArgumentParser
import TTClient
import TTCommandSupport

/// `tt-connect ping`: `tt-ping` with all of `tt-connect`'s options.
public struct PingCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Ping the server repeatedly and print TMSS10Ping-style lines and statistics."
    )

    @OptionGroup public var ping: PingOptions
    @OptionGroup public var proxy: ProxyOptions
    @OptionGroup public var server: ServerOptions
    @OptionGroup public var tls: TLSOptions
    @OptionGroup public var output: OutputOptions

    @Argument(help: ArgumentHelp("The framework server.", valueName: "HOST[:PORT]"))
    public var target: String?

    public init() {}

    public func run() throws {
        let plan = try ConnectionSetup.plan(
            target: target,
            proxy: proxy,
            server: server,
            verbose: output.verbose,
            reconnect: .once,
            requestTimeout: ping.replyTimeoutDuration,
            tls: tls
        )
        if output.verbose { Console.error(plan.routeReason) }
        let received = try Self.pingLoop(plan, ping: ping, connectFailureExitCode: nil)
        if received == 0 { throw ExitCode(1) }
    }

    /// Runs the shared loop with a client released before returning; a first connection that fails exits
    /// with `connectFailureExitCode` (tt-ping: 1), or the failure category's code when `nil`.
    static func pingLoop(_ plan: ConnectionPlan, ping: PingOptions, connectFailureExitCode: Int32?) throws -> Int {
        let client = FrameworkClient(configuration: plan.configuration)
        do {
            return try PingLoop.run(
                client,
                count: ping.count,
                interval: ping.intervalDuration,
                replyTimeout: ping.replyTimeoutDuration
            ).received
        } catch {
            throw CommandFailure(
                exitCode: connectFailureExitCode ?? error.category.exitCode,
                message: error.commandLineMessage
            )
        }
    }
}
