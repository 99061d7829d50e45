public import ArgumentParser
import Glibc

/// Runs a root command the way every tt-connect tool needs: parse errors and `ValidationError`s exit with 2
/// (usage, per the docs/CLI.md table "Exit codes", where ArgumentParser would use 64), ``CommandFailure`` prints its message and exits
/// with its code, and everything the command owns is released before the process exits (so the API trace ends
/// with `TMSS10API_Term`). Before parsing, the process is marked not dumpable (``CoreDumpGuard``).
public enum CommandRunner {
    /// Parses `arguments` (the process arguments when `nil`), runs the command and exits.
    public static func main<Command: ParsableCommand>(_ type: Command.Type, arguments: [String]? = nil) -> Never {
        CoreDumpGuard.apply()
        exit(run(type, arguments: arguments))
    }

    /// Parses `arguments` (the process arguments when `nil`), runs the asynchronous command and exits.
    public static func main<Command: AsyncParsableCommand>(
        _ type: Command.Type,
        arguments: [String]? = nil
    ) async -> Never {
        CoreDumpGuard.apply()
        exit(await run(type, arguments: arguments))
    }

    /// Parses and runs the command and returns the exit status instead of exiting.
    public static func run<Command: ParsableCommand>(_ type: Command.Type, arguments: [String]? = nil) -> Int32 {
        do {
            var command = try type.parseAsRoot(arguments)
            try command.run()
            return 0
        } catch {
            return status(for: error, of: type)
        }
    }

    /// Parses and runs the asynchronous command (or a synchronous subcommand) and returns the exit status.
    public static func run<Command: AsyncParsableCommand>(
        _ type: Command.Type,
        arguments: [String]? = nil
    ) async -> Int32 {
        do {
            var command = try type.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch {
            return status(for: error, of: type)
        }
    }

    private static func status<Command: ParsableCommand>(for error: any Error, of type: Command.Type) -> Int32 {
        if let failure = error as? CommandFailure {
            Console.error("\(toolName): \(failure.message)")
            return failure.exitCode
        }
        let code = type.exitCode(for: error)
        let message = type.fullMessage(for: error)
        if code == .success {
            if !message.isEmpty { Console.line(message) }
            return 0
        }
        if !message.isEmpty { Console.error(message) }
        return code == .validationFailure ? CommandFailure.usageExitCode : code.rawValue
    }

    private static var toolName: String {
        String(CommandLine.arguments.first?.split(separator: "/").last ?? "tt-connect")
    }
}
