/// A failure that ends a command: the exit code (docs/CLI.md, "Exit codes") and the one-line message printed on standard
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

    /// The exit code of a usage error (docs/CLI.md, "Exit codes").
    public static let usageExitCode: Int32 = 2

    /// A usage error (exit 2): bad flag, logon string, proxy URL or config file.
    public static func usage(_ message: String) -> CommandFailure {
        CommandFailure(exitCode: usageExitCode, message: message)
    }

    public var description: String { message }
}
