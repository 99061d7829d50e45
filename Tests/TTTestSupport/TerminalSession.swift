public import Foundation

/// A program running on a real pseudo-terminal, driven like a user at the keyboard: wait for a prompt, type
/// an answer.
///
/// util-linux `script` creates the pseudo-terminal, makes it the program's controlling terminal (so the
/// program's `/dev/tty` is it) and relays between it and our pipes. Answers are typed only once their prompt
/// is on the screen, as a person would: a program may discard input typed ahead of a no-echo prompt.
public final class TerminalSession: Sendable {
    private let process: Process
    private let input: FileHandle
    private let output: PipeCollector

    /// Starts `executable arguments` on a new terminal, with exactly `environment` (nothing inherited but the
    /// sanitizer settings, ``sanitizerSettings(_:)``).
    public init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let command = ([executable.path] + arguments).map(Self.shellQuoted).joined(separator: " ")
        // -q: no "Script started" lines; -e: script exits with the program's status; /dev/null: no typescript.
        process.arguments = ["-q", "-e", "-c", command, "/dev/null"]
        // script runs the command with $SHELL -c; sh is there on every system.
        process.environment = sanitizerSettings(environment.merging(["SHELL": "/bin/sh"]) { mine, _ in mine })
        let inPipe = Pipe()
        let outPipe = Pipe()
        process.standardInput = inPipe
        process.standardOutput = outPipe
        process.standardError = outPipe
        output = PipeCollector(outPipe.fileHandleForReading)
        input = inPipe.fileHandleForWriting
        try runWithNoSignalBlocked(process)
        self.process = process
    }

    /// Everything the terminal showed so far (prompts, echoed answers, output).
    public var screen: String { String(decoding: output.snapshot(), as: UTF8.self) }

    /// Waits until `text` appears after the first `offset` characters of the screen; returns the offset just
    /// after it, for the next wait. Throws after `timeout` or when the program ended without showing it.
    @discardableResult
    public func waitFor(_ text: String, after offset: Int = 0, timeout: Duration = .seconds(60)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while true {
            let shown = screen
            let start = shown.index(shown.startIndex, offsetBy: min(offset, shown.count))
            if let range = shown[start...].range(of: text) {
                return shown.distance(from: shown.startIndex, to: range.upperBound)
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw ProcessRunError(description: "the terminal never showed \"\(text)\"; it shows:\n\(shown)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Types `line` and Enter.
    public func type(_ line: String) throws {
        try input.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Waits (bounded) for the program to end and returns its exit status; kills it when the time is up.
    public func finish(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ProcessRunError(description: "the program did not end within \(timeout); it shows:\n\(screen)")
        }
        try? input.close()
        _ = await output.finish()
        return process.terminationStatus
    }

    private static func shellQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
