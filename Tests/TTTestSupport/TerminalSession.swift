public import Foundation

/// A command run on a pseudo-terminal of its own (util-linux `script`), typed into as a person would: what it
/// writes to the terminal, `/dev/tty` included, comes back through ``outputSoFar``.
public final class TerminalSession: Sendable {
    private let process: Process
    private let input: FileHandle
    private let output: PipeCollector

    /// Whether `script` is installed (util-linux; scripts/install-deps).
    public static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/script") }

    /// Starts `executable arguments` on a new terminal; `redirectInput` puts `< /dev/null` on its standard input
    /// (so only `/dev/tty` is a terminal).
    public init(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = [:],
        redirectInput: Bool = false
    ) throws {
        func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let command =
            "exec " + ([executable.path] + arguments).map(quoted).joined(separator: " ")
            + (redirectInput ? " </dev/null" : "")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-q", "-f", "-e", "-c", command, "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
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

    /// Everything shown on the terminal so far.
    public var outputSoFar: String { String(decoding: output.snapshot(), as: UTF8.self) }

    /// Waits until the terminal shows `text`, or throws after `timeout`.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !outputSoFar.contains(text) {
            guard process.isRunning else {
                throw ProcessRunError(description: "the terminal session ended before showing \(text): \(outputSoFar)")
            }
            guard ContinuousClock.now < deadline else {
                throw ProcessRunError(description: "no \(text) within \(timeout): \(outputSoFar)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Types `text` on the terminal.
    public func type(_ text: String) throws {
        try input.write(contentsOf: Data(text.utf8))
    }

    /// Waits (bounded) for the command to end; returns its exit status. Killed when the time is up.
    public func finish(timeout: Duration = .seconds(30)) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? input.close()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
