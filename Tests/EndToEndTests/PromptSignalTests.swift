import Foundation
import TTTestSupport
import Testing

@Suite("A signal at a password prompt leaves the terminal as it was")
struct PromptSignalTests {
    @Test(
        "Ctrl-C (SIGINT) or a hang-up at the no-echo prompt ends the program with echo back on",
        arguments: [SIGINT, SIGHUP, SIGTERM]
    )
    func signalRestoresEcho(signal: Int32) async throws {
        let home = try TemporaryDirectory()
        // A user name no other process shows: it finds the tool's process ID among the terminal's processes.
        let user = "fred\(UUID().uuidString.prefix(8).lowercased())"
        let tool = BuiltProducts.executable("tt-connect").path
        // After the tool ends, the shell shows the terminal's settings: echo must be on again.
        let session = try TerminalSession(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "\"$@\"; echo status=$?; stty -a", "sh", tool, "-S", "\(user)@127.0.0.1:1"],
            environment: ["HOME": home.path, "PATH": "/usr/bin:/bin"]
        )
        let prompted = try await session.waitFor("Password for \(user)@127.0.0.1:1: ")
        let pid = try #require(Self.processID(executable: tool, argument: "\(user)@127.0.0.1:1"))
        #expect(kill(pid, signal) == 0)
        let ended = try await session.waitFor("status=", after: prompted)
        try await session.waitFor("echok", after: ended)
        #expect(try await session.finish() == 0, "\(session.screen)")
        let settings = String(session.screen.dropFirst(ended))
        // The shell reports a program killed by signal N as 128 + N: it ended as before, by the signal.
        #expect(settings.hasPrefix("\(128 + signal)"), "\(session.screen)")
        let flags = settings.split(whereSeparator: { $0.isWhitespace || $0 == ";" })
        #expect(flags.contains("echo"), "echo is still off: \(settings)")
        #expect(flags.contains("-echonl"), "\(settings)")
    }

    @Test("Ctrl-C at setup's password question ends it with echo back on")
    func setupPasswordSignalRestoresEcho() async throws {
        let home = try TemporaryDirectory()
        let name = "lab\(UUID().uuidString.prefix(8).lowercased())"
        let tool = BuiltProducts.executable("tt-connect").path
        let session = try TerminalSession(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "\"$@\"; echo status=$?; stty -a", "sh", tool, "setup", name, "--config", home.file("config")],
            environment: ["HOME": home.path, "PATH": "/usr/bin:/bin"]
        )
        var at = try await session.waitFor("Server: ")
        try session.type("127.0.0.1")
        at = try await session.waitFor("Port [5000]: ", after: at)
        try session.type("1")
        at = try await session.waitFor("User: ", after: at)
        try session.type("fred")
        at = try await session.waitFor("Password: ", after: at)
        let pid = try #require(Self.processID(executable: tool, argument: name))
        #expect(kill(pid, SIGINT) == 0)
        let ended = try await session.waitFor("status=", after: at)
        try await session.waitFor("echok", after: ended)
        #expect(try await session.finish() == 0, "\(session.screen)")
        let settings = String(session.screen.dropFirst(ended))
        #expect(settings.hasPrefix("\(128 + SIGINT)"), "\(session.screen)")
        let flags = settings.split(whereSeparator: { $0.isWhitespace || $0 == ";" })
        #expect(flags.contains("echo"), "echo is still off: \(settings)")
    }

    /// The process running `executable` with `argument` among its arguments (scanning /proc: the terminal's
    /// `script` and shells stand between it and the test).
    private static func processID(executable: String, argument: String) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if words.first == executable, words.contains(argument) { return pid }
        }
        return nil
    }
}
