package import ArgumentParser
import CCrypto
import Glibc

/// Runs a root command the way every tt-connect tool needs: parse errors and `ValidationError`s exit with 2
/// (usage, per the docs/CLI.md table "Exit codes", where ArgumentParser would use 64), ``CommandFailure`` prints its message and exits
/// with its code, and everything the command owns is released before the process exits (so the API trace ends
/// with `TMSS10API_Term`). Before parsing, the process is marked not dumpable (``CoreDumpGuard``), and libcrypto
/// is told to keep its global state until the process is gone: `exit` runs while threads may still be inside
/// libcrypto (NIO's event loops and thread pool in the servers, the doctor's route threads and `forward`'s relays
/// in tt-connect), and OpenSSL's own atexit cleanup would free that state under them (docs/ARCHITECTURE.md).
package enum CommandRunner {
    /// What a tool with `--json` prints on standard output for a usage error, so a monitor parsing standard
    /// output always gets an answer: given the arguments and the message, the JSON line (`nil`: nothing).
    package typealias UsageReport = @Sendable (_ arguments: [String], _ message: String) -> String?

    /// Parses `arguments` (the process arguments when `nil`), runs the command and exits.
    package static func main<Command: ParsableCommand>(
        _ type: Command.Type,
        arguments: [String]? = nil,
        usageReport: UsageReport? = nil
    ) -> Never {
        prepareProcess()
        exit(run(type, arguments: arguments, usageReport: usageReport))
    }

    /// Parses `arguments` (the process arguments when `nil`), runs the asynchronous command and exits.
    package static func main<Command: AsyncParsableCommand>(
        _ type: Command.Type,
        arguments: [String]? = nil,
        usageReport: UsageReport? = nil
    ) async -> Never {
        prepareProcess()
        exit(await run(type, arguments: arguments, usageReport: usageReport))
    }

    /// Runs before anything else of the tool, so before its first libcrypto call: the first initialisation of
    /// libcrypto decides whether `exit` runs `OPENSSL_cleanup`.
    private static func prepareProcess() {
        CoreDumpGuard.apply()
        _ = CCrypto_keepStateUntilExit()
    }

    /// Parses and runs the command and returns the exit status instead of exiting.
    package static func run<Command: ParsableCommand>(
        _ type: Command.Type,
        arguments: [String]? = nil,
        usageReport: UsageReport? = nil
    ) -> Int32 {
        do {
            var command = try type.parseAsRoot(arguments)
            try command.run()
            return 0
        } catch {
            return status(for: error, of: type, arguments: arguments, usageReport: usageReport)
        }
    }

    /// Parses and runs the asynchronous command (or a synchronous subcommand) and returns the exit status.
    package static func run<Command: AsyncParsableCommand>(
        _ type: Command.Type,
        arguments: [String]? = nil,
        usageReport: UsageReport? = nil
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
            return status(for: error, of: type, arguments: arguments, usageReport: usageReport)
        }
    }

    private static func status<Command: ParsableCommand>(
        for error: any Error,
        of type: Command.Type,
        arguments: [String]?,
        usageReport: UsageReport?
    ) -> Int32 {
        let arguments = arguments ?? Array(CommandLine.arguments.dropFirst())
        if let failure = error as? CommandFailure {
            Console.error("\(toolName): \(failure.message)")
            if failure.exitCode == CommandFailure.usageExitCode, let line = usageReport?(arguments, failure.message) {
                Console.line(line)
            }
            return failure.exitCode
        }
        let code = type.exitCode(for: error)
        if code == .success {
            let message = type.fullMessage(for: error)
            if !message.isEmpty { Console.line(message) }
            return 0
        }
        guard code == .validationFailure else {
            let message = type.fullMessage(for: error)
            if !message.isEmpty { Console.error(message) }
            return code.rawValue
        }
        // A usage error: said in words users understand where ArgumentParser's are misleading.
        if let better = UsageWording.message(for: type.message(for: error), arguments: arguments, of: type) {
            Console.error("\(toolName): \(better)")
            if let line = usageReport?(arguments, better) { Console.line(line) }
        } else {
            Console.error(type.fullMessage(for: error))
            if let line = usageReport?(arguments, type.message(for: error)) { Console.line(line) }
        }
        return CommandFailure.usageExitCode
    }

    private static var toolName: String {
        String(CommandLine.arguments.first?.split(separator: "/").last ?? "tt-connect")
    }
}
