import Foundation
import Testing

@testable import TTTestSupport

/// Children spawned by the test helpers get a HOME of their own. With the test's HOME, every tt-ping run left its
/// server's key in the user's known-servers file, and a later server on a reused ephemeral port, with another key,
/// was refused as an impostor (exit 10).
@Suite("Child processes of the tests never write to the user's HOME")
struct ChildHomeTests {
    private static var knownServersOfTheTest: String {
        (ProcessInfo.processInfo.environment["HOME"] ?? "/") + "/.config/tt-connect/known_servers"
    }

    @Test("tt-ping run by runProcess remembers the server's key in a private HOME, not in the user's file")
    func pingLeavesTheUsersKnownServersAlone() async throws {
        try await withStarted(ScriptedPeer.start([ScriptedPeer.Connection()])) { peer in
            let result = try await runProcess(
                BuiltProducts.executable("tt-ping"),
                ["-c", "1", "-P", "\(peer.port)", "127.0.0.1"]
            )
            #expect(result.status == 0, "\(result.allOutput)")
            let known = (try? String(contentsOfFile: Self.knownServersOfTheTest, encoding: .utf8)) ?? ""
            #expect(!known.contains("127.0.0.1:\(peer.port) "), "tt-ping wrote to \(Self.knownServersOfTheTest)")
        }
    }

    @Test("runProcess gives a private, empty HOME that is removed afterwards; a HOME the caller sets is kept")
    func privateHomeLifetime() async throws {
        let script = "echo \"$HOME\"; ls -A \"$HOME\" | wc -l"
        let result = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(result.allOutput)")
        let home = try #require(lines.first)
        #expect(home != ProcessInfo.processInfo.environment["HOME"])
        #expect(lines.last == "0", "the private HOME was not empty")
        #expect(!FileManager.default.fileExists(atPath: home), "\(home) outlived the child")

        let chosen = try await runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "echo \"$HOME\""],
            environment: ["HOME": "/nonexistent-home"]
        )
        #expect(chosen.standardOutput == "/nonexistent-home\n")
    }

    @Test("a RunningProcess gets a private HOME too")
    func runningProcessHome() async throws {
        let process = try RunningProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "echo \"home=$HOME\"; exec sleep 60"])
        try await withStarted(process) { process in
            try await process.waitForOutput(containing: "\n")
            let home = try #require(process.outputSoFar.split(separator: "\n").first).dropFirst("home=".count)
            #expect(home != ProcessInfo.processInfo.environment["HOME"] ?? "")
            #expect(FileManager.default.fileExists(atPath: String(home)))
        }
    }

    @Test("a private HOME takes the inherited XDG base directories with it; those the caller sets stay")
    func baseDirectoriesGoWithHome() throws {
        // What runProcess and RunningProcess build: the test's environment, with the caller's additions merged in.
        let chosen = ["XDG_CONFIG_HOME": "/chosen/config"]
        var environment = [
            "HOME": "/home/user", "PATH": "/usr/bin:/bin", "XDG_STATE_HOME": "/home/user/.local/state",
            "XDG_DATA_HOME": "/home/user/.local/share", "XDG_CACHE_HOME": "/home/user/.cache",
            "XDG_CONFIG_HOME": "/chosen/config",
        ]
        let home = try #require(try PrivateHome.assign(in: &environment, chosen: chosen, callerChose: false))
        #expect(environment["HOME"] == home.path)
        #expect(environment["XDG_STATE_HOME"] == nil && environment["XDG_DATA_HOME"] == nil)
        #expect(environment["XDG_CACHE_HOME"] == nil)
        #expect(environment["XDG_CONFIG_HOME"] == "/chosen/config")
        #expect(environment["PATH"] == "/usr/bin:/bin")
    }
}
