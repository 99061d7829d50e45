public import ArgumentParser
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect`: check, ping, pipe and forward through any transport (check is the default subcommand).
public struct TTConnectCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tt-connect",
        abstract: "Reach a framework server directly or through an HTTP CONNECT proxy, and tell what fails.",
        version: VersionReport.clientTool("tt-connect"),
        subcommands: [CheckCommand.self, PingCommand.self, PipeCommand.self, ForwardCommand.self],
        defaultSubcommand: CheckCommand.self
    )

    public init() {}
}
