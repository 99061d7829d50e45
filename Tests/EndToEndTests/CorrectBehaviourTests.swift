import Foundation
import TTTestSupport
import Testing

/// Behaviour that was wrong (issue 11, item 5): HOME, tt-ping with config files, its exit codes, targets and
/// count, `ping --json`, the login stage, tiny timeouts and a silent https:// proxy.
@Suite("tt-connect and tt-ping behave correctly", .serialized)
struct CorrectBehaviourTests {
    @Test("a missing HOME, or one that is a file, warns 'cannot remember the key' and goes on; nothing is created")
    func unusableHome() async throws {
        let scratch = try TemporaryDirectory()
        let missing = scratch.file("no-such-home/deeper")
        let file = scratch.file("home-is-a-file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try await withStarted(ServerProcess.start()) { server in
            for home in [missing, file] {
                let result = try await runProcess(
                    BuiltProducts.executable("tt-connect"),
                    ["-S", "\(serverUser):\(serverPassword)@\(server.address)"],
                    environment: [
                        "HOME": home, "HTTPS_PROXY": "", "ALL_PROXY": "", "https_proxy": "", "all_proxy": "",
                    ],
                    timeout: .seconds(60)
                )
                #expect(result.status == 0, "\(home): \(result.allOutput)")
                #expect(
                    result.standardOutput.contains("warning: cannot remember the key in \(home)/.config/tt-connect")
                )
                #expect(result.standardOutput.contains("✓ login"))
                #expect(!result.allOutput.contains("The operation could not be completed"))
            }
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("no-such-home")))
    }

    @Test("tt-ping --config F --connection NAME pings the entry's server and port; HOST is optional there")
    func pingConfigEntry() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let config = home.file("config")
            try "[connection lab]\nserver = 127.0.0.1\nport = \(server.port)\n".write(
                toFile: config,
                atomically: true,
                encoding: .utf8
            )
            let entryOnly = try await tool(
                ["-c", "1", "--config", config, "--connection", "lab"],
                name: "tt-ping",
                home: home
            )
            #expect(entryOnly.status == 0, "\(entryOnly.allOutput)")
            #expect(entryOnly.standardOutput.contains("bytes from 127.0.0.1: seq=1"))
            // HOST given: the entry still gives the port (the old bug pinged 5000).
            let withHost = try await tool(
                ["-c", "1", "--config", config, "--connection", "lab", "127.0.0.1"],
                name: "tt-ping",
                home: home
            )
            #expect(withHost.status == 0, "\(withHost.allOutput)")
            let none = try await tool(["-c", "1"], name: "tt-ping", home: home)
            #expect(none.status == 2)
            #expect(none.standardError.contains("tt-ping needs HOST"))
        }
    }

    @Test("tt-ping exits with the cause's code when no reply came back: 4 for a 407, 8 for a closed port")
    func pingExitCodes() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start(scenario: "407-basic.scenario")) { proxy in
                let auth = try await tool(
                    ["-c", "1", "-P", "\(server.port)", "-x", proxy.address, "127.0.0.1"],
                    name: "tt-ping",
                    home: home
                )
                #expect(auth.status == 4, "\(auth.allOutput)")
            }
        }
        let closed = try await tool(["-c", "1", "-P", "\(try closedPort())", "127.0.0.1"], name: "tt-ping", home: home)
        #expect(closed.status == 8, "\(closed.allOutput)")
    }

    @Test("tt-ping ::1 is a host, and -c 0 pings until SIGINT, then prints the statistics (exit 0)")
    func pingIPv6AndUntilInterrupted() async throws {
        let home = try TemporaryDirectory()
        let directory = try TemporaryDirectory()
        let server = try RunningProcess(
            BuiltProducts.executable("tt-server"),
            ["--listen", "[::1]:0", "--identity", directory.file("identity.pem")]
        )
        try await withStarted(server) { server in
            try await server.waitForOutput(containing: "tt-server listening on [::1]:")
            let port = try #require(
                try lineValue(server.outputSoFar, after: "tt-server listening on [::1]:").flatMap { Int($0) }
            )
            let once = try await tool(["-c", "1", "-P", "\(port)", "::1"], name: "tt-ping", home: home)
            #expect(once.status == 0, "\(once.allOutput)")
            #expect(once.standardOutput.contains("bytes from ::1: seq=1"))

            let endless = try RunningProcess(
                BuiltProducts.executable("tt-ping"),
                ["-c", "0", "-i", "0.05", "-P", "\(port)", "::1"],
                environment: ["HOME": home.path]
            )
            try await endless.waitForOutput(containing: "seq=3 ")
            let status = await endless.stop(signal: SIGINT)
            #expect(status == 0, "\(endless.outputSoFar)")
            #expect(endless.outputSoFar.contains("--- ::1 TMSS10Ping statistics ---"))
        }
    }

    @Test("tt-connect ping --json prints one JSON object: replies, statistics, or the failure")
    func pingJSON() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let result = try await tool(["ping", "--json", "-c", "2", "-i", "0.05", server.address], home: home)
            #expect(result.status == 0, "\(result.allOutput)")
            let json = try jsonObject(result)
            #expect(json["ok"] as? Bool == true)
            #expect(json["transmitted"] as? Int == 2)
            #expect(json["received"] as? Int == 2)
            #expect((json["replies"] as? [[String: Any]])?.count == 2)
            #expect(json["rtt_ms"] is [String: Any])
        }
        let failed = try await tool(["ping", "--json", "-c", "1", "127.0.0.1:\(try closedPort())"], home: home)
        #expect(failed.status == 8)
        let json = try jsonObject(failed)
        #expect(json["ok"] as? Bool == false)
        #expect(json["exit_code"] as? Int == 8)
        #expect(json["stage"] as? String == "server")
    }

    @Test("a login that takes longer than --timeout is the login stage timing out (exit 12)")
    func loginTimeout() async throws {
        let home = try TemporaryDirectory()
        let directory = try TemporaryDirectory()
        let users = directory.file("users")
        // 10,000,000 PBKDF2 iterations, the most a users file may ask for: the server needs seconds to check this
        // login (2,000,000 took only 0.46 s on a CPU with SHA extensions, inside the 1 s deadline).
        let added = try await runProcess(
            BuiltProducts.executable("tt-server"),
            ["add-user", "slow", "--users", users, "--iterations", "10000000"],
            input: Data("Slow-Pa55\n".utf8),
            timeout: .seconds(60)
        )
        try #require(added.status == 0, "\(added.allOutput)")
        let server = try RunningProcess(
            BuiltProducts.executable("tt-server"),
            ["--listen", "127.0.0.1:0", "--identity", directory.file("identity.pem"), "--users", users]
        )
        try await withStarted(server) { server in
            try await server.waitForOutput(containing: "tt-server listening on 127.0.0.1:")
            let port = try #require(
                try lineValue(server.outputSoFar, after: "tt-server listening on 127.0.0.1:").flatMap { Int($0) }
            )
            let result = try await tool(
                ["--json", "--timeout", "1", "-S", "slow:Slow-Pa55@127.0.0.1:\(port)"],
                home: home
            )
            #expect(result.status == 12, "\(result.allOutput)")
            let json = try jsonObject(result)
            #expect(json["stage"] as? String == "login")
            #expect(!result.allOutput.contains("Slow-Pa55"))
        }
    }

    @Test("--timeout 0.001 is shown as the tiny deadline it is, not as a slow proxy")
    func tinyTimeout() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ProxyProcess.start(scenario: "never-answers.scenario")) { proxy in
            let result = try await tool(["--timeout", "0.001", "-x", proxy.address, "127.0.0.1:5000"], home: home)
            #expect(result.status == 12, "\(result.allOutput)")
            #expect(result.standardOutput.contains("far too short for any proxy to answer"), "\(result.standardOutput)")
        }
    }

    @Test(
        "an https:// proxy silent after TCP connect is a TLS handshake timeout naming --proxy-cacert/--proxy-insecure"
    )
    func silentHTTPSProxy() async throws {
        let home = try TemporaryDirectory()
        // A listener that never accepts: the kernel completes the TCP handshake, nobody answers the ClientHello.
        let (descriptor, port) = try bindLoopback(listenBacklog: 8)
        defer { close(descriptor) }
        let result = try await tool(
            ["--timeout", "1", "-x", "https://127.0.0.1:\(port)", "127.0.0.1:5000"],
            home: home
        )
        #expect(result.status == 12, "\(result.allOutput)")
        let output = result.standardOutput
        #expect(output.contains("✗ proxy"))
        #expect(
            output.contains("the TLS handshake with proxy https://127.0.0.1:\(port) (from --proxy) timed out"),
            "\(output)"
        )
        #expect(output.contains("--proxy-cacert FILE") && output.contains("--proxy-insecure"))
    }

    @Test("lower layers' errors become our sentences: a port in use, a directory given as a file")
    func lowerLayerErrors() async throws {
        let home = try TemporaryDirectory()
        let directory = home.file("a-directory")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await withStarted(ProxyProcess.start()) { busy in
            let address = busy.address
            let server = try await tool(
                ["--listen", address, "--identity", home.file("identity.pem")],
                name: "tt-server",
                home: home
            )
            #expect(server.status != 0)
            #expect(server.standardError.contains("cannot listen on \(address): Address already in use"))
            let proxy = try await tool(["--listen", address], name: "tt-proxy", home: home)
            #expect(proxy.status != 0)
            #expect(proxy.standardError.contains("tt-proxy: cannot listen on \(address): Address already in use\n"))
            for result in [server, proxy] {
                #expect(!result.standardError.contains("bind(descriptor") && !result.standardError.contains("errno"))
            }
        }
        let config = try await tool(["--config", directory, "--connection", "x"], home: home)
        #expect(config.status == 2)
        #expect(config.standardError.contains("the config file \(directory) is not a regular file"))
        let users = try await tool(
            ["--listen", "127.0.0.1:0", "--identity", home.file("identity.pem"), "--users", directory],
            name: "tt-server",
            home: home
        )
        #expect(users.status == 2)
        #expect(users.standardError.contains("users file \(directory) is not a regular file"), "\(users.standardError)")
        let auth = try await tool(["--listen", "127.0.0.1:0", "--auth-file", directory], name: "tt-proxy", home: home)
        #expect(auth.status == 2)
        #expect(auth.standardError.contains("auth file \(directory): the file \(directory) is not a regular file"))
        for result in [config, users, auth] {
            #expect(!result.allOutput.contains("The operation could not be completed"))
        }
    }
}
