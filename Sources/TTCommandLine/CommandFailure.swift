public import ArgumentParser
public import TTClient
public import TTTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure that ends a command: the exit code of DESIGN.md §4 and the one-line message printed on standard
/// error. The message never contains a secret.
public struct CommandFailure: Error, Sendable, CustomStringConvertible {
    /// The process exit code.
    public var exitCode: Int32
    /// What failed, where, and what to do.
    public var message: String

    /// Creates a failure with an explicit exit code.
    public init(exitCode: Int32, message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    /// A usage error (exit 2): bad flag, logon string, proxy URL or config file.
    public static func usage(_ message: String) -> CommandFailure {
        CommandFailure(exitCode: 2, message: message)
    }

    /// A client failure, with the exit code of its category.
    public init(_ error: FrameworkClientError) {
        self.init(exitCode: error.category.exitCode, message: error.message)
    }

    /// A transport failure, with the exit code of its category (a closed connection counts as the server
    /// being unreachable, as it does for the client).
    public init(_ error: TransportError) {
        self.init(FrameworkClientError(error))
    }

    public var description: String { message }
}

/// Runs a root command the way our tools need: parse errors and `ValidationError`s exit with 2 (usage, per
/// DESIGN.md §4, where ArgumentParser would use 64), ``CommandFailure`` prints its message and exits with its
/// code, and everything the command owns is released before the process exits (so the API trace ends with
/// `TMSS10API_Term`).
public enum CommandRunner {
    /// Parses `arguments` (the process arguments when `nil`), runs the command and exits.
    public static func main<Command: ParsableCommand>(_ type: Command.Type, arguments: [String]? = nil) -> Never {
        exit(run(type, arguments: arguments))
    }

    /// Parses and runs the command and returns the exit status instead of exiting.
    public static func run<Command: ParsableCommand>(_ type: Command.Type, arguments: [String]? = nil) -> Int32 {
        do {
            var command = try type.parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let failure as CommandFailure {
            Console.error("\(toolName): \(failure.message)")
            return failure.exitCode
        } catch {
            let code = type.exitCode(for: error)
            let message = type.fullMessage(for: error)
            if code == .success {
                Console.line(message)
                return 0
            }
            if !message.isEmpty { Console.error(message) }
            return code == .validationFailure ? 2 : code.rawValue
        }
    }

    private static var toolName: String {
        String(CommandLine.arguments.first?.split(separator: "/").last ?? "tt-connect")
    }
}
