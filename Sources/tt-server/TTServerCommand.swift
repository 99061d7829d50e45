import ArgumentParser
import Foundation

/// `tt-server`: the framework server. `serve` is the default subcommand.
@main
struct TTServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-server",
        abstract: "Run a tt-connect framework server, or manage its users file.",
        subcommands: [Serve.self, AddUser.self],
        defaultSubcommand: Serve.self
    )

    /// Like ArgumentParser's `main`, but a usage error exits with 2 (the tt-connect convention), not 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}

/// Exit statuses of tt-server (DESIGN.md §4 where they overlap).
enum ExitStatus {
    /// Startup failed for a reason no flag explains (a port in use, for example).
    static let failure: Int32 = 1
    /// A bad flag, or an identity or users file that cannot be used.
    static let usage: Int32 = 2
}

/// Writes one line to standard output unbuffered, so a parent reading the pipe sees it at once.
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data(("tt-server: " + line + "\n").utf8))
}
