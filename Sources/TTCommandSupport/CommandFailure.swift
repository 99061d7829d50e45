/// A failure that ends a command: the exit code (docs/CLI.md, "Exit codes") and the one-line message printed on standard
/// error. The message never contains a secret.
package struct CommandFailure: Error, Sendable, CustomStringConvertible {
    /// The process exit code.
    package var exitCode: Int32
    /// What failed, where, and what to do.
    package var message: String

    /// Creates a failure with an explicit exit code.
    package init(exitCode: Int32, message: String) {
        self.exitCode = exitCode
        self.message = message
    }

    /// The exit code of a usage error (docs/CLI.md, "Exit codes").
    package static let usageExitCode: Int32 = 2

    /// A usage error (exit 2): bad flag, logon string, proxy URL or config file.
    package static func usage(_ message: String) -> CommandFailure {
        CommandFailure(exitCode: usageExitCode, message: message)
    }

    package var description: String { message }
}
