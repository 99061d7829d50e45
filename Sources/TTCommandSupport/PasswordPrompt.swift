import FoundationEssentials
import Glibc

/// The one way every tool asks a person for a password, as ssh does: without echo on the terminal, which is
/// standard input when that is one, else `/dev/tty` (`tt-connect pipe` reads its data from standard input, yet
/// under ssh a terminal exists); without a terminal, the program `SSH_ASKPASS` names
/// (`SSH_ASKPASS_REQUIRE=force` prefers it even with a terminal, `never` forbids it).
package enum PasswordPrompt {
    /// Why no password could be asked for.
    package enum Failure: Error, Sendable, Equatable {
        /// No terminal (neither standard input nor `/dev/tty`) and no usable `SSH_ASKPASS`.
        case noTerminal
        /// The terminal ended (end of file) or the askpass program gave nothing.
        case nothingEntered
        /// The askpass program failed; the reason, without the password.
        case askpassFailed(String)
        /// The two entries of a new password differ.
        case confirmationDiffers
    }

    /// The longest password line accepted: input is bounded even from a terminal that streams forever.
    static let maximumLength = 4096
    /// How long an askpass program may take (a person types into it).
    static let askpassTimeout = Duration.seconds(300)

    /// Asks for a password with `prompt` and returns it (without the newline).
    /// - Parameters:
    ///   - confirm: the prompt for typing it again (a new password); the two must match.
    ///   - environment: where `SSH_ASKPASS` and `SSH_ASKPASS_REQUIRE` are read (the process's when `nil`).
    package static func read(
        prompt: String,
        confirm: String? = nil,
        environment: [String: String]? = nil
    ) throws(Failure) -> String {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let first = try ask(prompt, environment: environment)
        guard let confirm else { return first }
        guard try ask(confirm, environment: environment) == first else { throw .confirmationDiffers }
        return first
    }

    private static func ask(_ prompt: String, environment: [String: String]) throws(Failure) -> String {
        let askpass = environment["SSH_ASKPASS"].flatMap { $0.isEmpty ? nil : $0 }
        let require = environment["SSH_ASKPASS_REQUIRE"]?.lowercased()
        if let askpass, require == "force" { return try runAskpass(askpass, prompt: prompt) }
        if isatty(STDIN_FILENO) == 1 { return try readTerminal(input: STDIN_FILENO, prompt: prompt, to: STDERR_FILENO) }
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)
        if tty >= 0 {
            defer { close(tty) }
            return try readTerminal(input: tty, prompt: prompt, to: tty)
        }
        if let askpass, require != "never" { return try runAskpass(askpass, prompt: prompt) }
        throw .noTerminal
    }

    /// Turns echo off first, then prompts: what is typed after the prompt appears is never flushed or shown.
    private static func readTerminal(input: Int32, prompt: String, to output: Int32) throws(Failure) -> String {
        var original = termios()
        let isTerminal = tcgetattr(input, &original) == 0
        if isTerminal {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            silent.c_lflag |= tcflag_t(ECHONL)
            tcsetattr(input, TCSANOW, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(input, TCSANOW, &original)
            }
        }
        Console.write(prompt, to: output)
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < maximumLength {
            let count = Glibc.read(input, &byte, 1)
            if count < 0, errno == EINTR { continue }
            if count <= 0 {
                if line.isEmpty { throw .nothingEntered }
                break
            }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// Runs `program PROMPT` and takes the first line of its output, bounded in time and size.
    private static func runAskpass(_ program: String, prompt: String) throws(Failure) -> String {
        let outcome: ChildProcess.Outcome
        do {
            outcome = try ChildProcess.run(
                program,
                arguments: [prompt],
                environment: ProcessInfo.processInfo.environment,
                timeout: askpassTimeout,
                limit: maximumLength + 1,
                stopAtNewline: true
            )
        } catch {
            throw .askpassFailed("cannot run SSH_ASKPASS \(program): \(error)")
        }
        guard let status = outcome.exitStatus, status == 0 else {
            let how = outcome.exitStatus.map { "exit \($0)" } ?? (outcome.timedOut ? "no answer in time" : "killed")
            throw .askpassFailed("SSH_ASKPASS \(program) gave no password (\(how))")
        }
        let collected = outcome.output
        let line = collected.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first ?? []
        guard !line.isEmpty, line.count <= maximumLength else { throw .nothingEntered }
        return String(decoding: line, as: UTF8.self)
    }
}
