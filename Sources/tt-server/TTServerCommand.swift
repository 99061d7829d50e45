import ArgumentParser
import CZlib
import TTCommandSupport

/// `tt-server`: the framework server. `serve` is the default subcommand.
@main
struct TTServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-server",
        abstract: "Run a tt-connect framework server, or manage its users file.",
        version: VersionReport.text(
            tool: "tt-server",
            libraries: [.openSSL, LinkedLibrary(name: "zlib", cVersion: zlibVersion())]
        ),
        subcommands: [Serve.self, AddUser.self],
        defaultSubcommand: Serve.self
    )

    /// Usage errors exit with 2, like every tt-connect tool (ArgumentParser would use 64).
    static func main() async {
        await CommandRunner.main(Self.self)
    }
}

/// Exit statuses of tt-server (the docs/CLI.md table "Exit codes" where they overlap).
enum ExitStatus {
    /// Startup failed for a reason no flag explains (a port in use, for example).
    static let failure: Int32 = 1
    /// A bad flag, or an identity or users file that cannot be used.
    static let usage = CommandFailure.usageExitCode
}

/// Writes one line to standard output unbuffered, so a parent reading the pipe sees it at once.
func printLine(_ line: String) {
    Console.line(line)
}

/// Writes one line to standard error.
func printError(_ line: String) {
    Console.error("tt-server: " + line)
}
