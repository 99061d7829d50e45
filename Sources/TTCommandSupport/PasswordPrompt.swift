import CProcessControl
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
    /// The signals that end a program waiting at a prompt (Ctrl-C, the quit key, a closed terminal, `kill`): caught
    /// while echo is off, so that echo is back before they end it.
    static let endingSignals = [SIGINT, SIGQUIT, SIGHUP, SIGTERM]
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

    private static func readTerminal(input: Int32, prompt: String, to output: Int32) throws(Failure) -> String {
        guard
            let line = readLineWithoutEcho(
                from: input,
                showingEnter: true,
                limit: maximumLength,
                prompt: {
                    Console.write(prompt, to: output)
                }
            )
        else { throw .nothingEntered }
        return String(decoding: line, as: UTF8.self)
    }

    /// Reads one line, at most `limit` bytes, from the terminal `input` with echo off, and returns it without its
    /// line end; `nil` at the end of input with nothing read.
    ///
    /// Echo goes off before `prompt` is written, so nothing typed after the prompt appears is shown or discarded,
    /// and comes back on afterwards. A signal that ends the program meanwhile (``endingSignals``) first turns echo
    /// back on, then ends it as it would have: killed by the signal with echo off, the program would leave the
    /// shell taking input without showing it.
    /// - Parameter showingEnter: keeps the line break of Enter visible (`ECHONL`).
    package static func readLineWithoutEcho(
        from input: Int32,
        showingEnter: Bool,
        limit: Int,
        prompt: () -> Void
    ) -> [UInt8]? {
        var original = termios()
        let isTerminal = tcgetattr(input, &original) == 0
        // Signals the program ignores (SIGHUP under nohup) stay ignored.
        var interruption =
            isTerminal ? try? SignalWakeup(endingSignals.filter { CProcessControl_isSignalIgnored($0) == 0 }) : nil
        if isTerminal {
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            if showingEnter { silent.c_lflag |= tcflag_t(ECHONL) }
            tcsetattr(input, TCSANOW, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(input, TCSANOW, &original)
            }
        }
        prompt()
        var line: [UInt8] = []
        var byte: UInt8 = 0
        var interrupted: Int32?
        while line.count < limit {
            if let wakeup = interruption, !waitForInput(input, or: wakeup) {
                interrupted = wakeup.takeSignal() ?? 0
                break
            }
            let count = Glibc.read(input, &byte, 1)
            if count < 0, errno == EINTR { continue }
            if count <= 0 {
                if line.isEmpty { return nil }
                break
            }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        if let interrupted {
            tcsetattr(input, TCSANOW, &original)
            // The handlers from before come back; by default the signal then ends the program.
            interruption = nil
            if interrupted != 0 { raise(interrupted) }
            return nil
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return line
    }

    /// Waits until `input` can be read (a byte, or its end): `true`; or until one of `wakeup`'s signals arrived:
    /// `false`. No deadline: a person types at their own pace, as at ssh's prompt.
    private static func waitForInput(_ input: Int32, or wakeup: SignalWakeup) -> Bool {
        var entries = [
            pollfd(fd: input, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeup.descriptor, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = poll(&entries, 2, -1)
            if ready < 0, errno == EINTR { continue }
            // A failed poll leaves it to read(2) to report the terminal's state.
            return ready < 0 || entries[1].revents == 0
        }
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
