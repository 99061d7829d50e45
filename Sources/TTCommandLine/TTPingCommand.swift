public import ArgumentParser
import TTClient
import TTTransport

/// `tt-ping [-P PORT] [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [proxy flags] HOST`: TMSS10Ping's output, through
/// any transport. Exit 0 when replies came back, 1 when none did or the server could not be reached.
public struct TTPingCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tt-ping",
        abstract: "Ping a framework server (no login needed), like TMSS10Ping.",
        version: "tt-connect \(TTConnectVersion.current)"
    )

    @Option(name: .customShort("P"), help: ArgumentHelp("Server port.", valueName: "PORT"))
    public var port = 5000

    @OptionGroup public var ping: PingOptions
    @OptionGroup public var proxy: ProxyOptions
    @OptionGroup public var tls: TLSOptions

    @Argument(help: ArgumentHelp("The framework server.", valueName: "HOST"))
    public var host: String

    public init() {}

    public func validate() throws {
        guard (1...65535).contains(port) else {
            throw ValidationError("-P must be a port from 1 to 65535, not \(port)")
        }
    }

    public func run() throws {
        let plan = try ConnectionSetup.plan(
            target: host,
            defaultPort: port,
            proxy: proxy,
            server: nil,
            verbose: false,
            reconnect: .once,
            requestTimeout: ping.replyTimeoutDuration,
            tls: tls
        )
        let received = try PingCommand.pingLoop(plan, ping: ping, connectFailureExitCode: 1)
        if received == 0 { throw ExitCode(1) }
    }
}
