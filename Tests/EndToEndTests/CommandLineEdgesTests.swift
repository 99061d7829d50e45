import Foundation
import TTTestSupport
import Testing

/// Issue 22: the command line's rough edges, each message compared whole.
@Suite("Command-line edges: usage errors, prompts, identity of tt-ping")
struct CommandLineEdgesTests {
    @Test("--json answers every usage error on standard output as stage options, exit 2")
    func jsonUsageErrors() async throws {
        let home = try TemporaryDirectory()
        let cases: [([String], String)] = [
            (["--json", "--timeout", "-1", "127.0.0.1:1"], "--timeout must be positive, not -1"),
            (["--json", "--bogus", "127.0.0.1:1"], "Unknown option '--bogus'"),
            (
                ["--json", "--proxy-auth", "bogus", "127.0.0.1:1"],
                "--proxy-auth must be any, basic, digest, ntlm or negotiate"
            ),
            (["--json", "-S", "fred@host:notaport", "127.0.0.1:1"], "-S"),
            (["--json", "127.0.0.1:99999"], "99999"),
        ]
        for (arguments, says) in cases {
            let result = try await tool(arguments, home: home)
            #expect(result.status == 2, "\(arguments): \(result.allOutput)")
            let json = try jsonObject(result)
            #expect(json["stage"] as? String == "options", "\(arguments): \(result.standardOutput)")
            #expect(json["exit_code"] as? Int == 2)
            #expect(json["ok"] as? Bool == false)
            #expect((json["message"] as? String)?.contains(says) == true, "\(arguments): \(result.standardOutput)")
        }
    }

    @Test("negative numbers must be positive; a mistyped subcommand gets did you mean; -U without a proxy warns")
    func wording() async throws {
        let home = try TemporaryDirectory()
        let timeout = try await tool(["--timeout", "-1", "127.0.0.1:1"], home: home)
        #expect(timeout.status == 2)
        #expect(timeout.standardError == "tt-connect: --timeout must be positive, not -1\n")
        #expect(timeout.standardOutput.isEmpty)

        let count = try await tool(["-c", "-1", "127.0.0.1"], name: "tt-ping", home: home)
        #expect(count.status == 2)
        #expect(count.standardError == "tt-ping: -c must be positive, not -1\n")

        let typo = try await tool(["chek", "127.0.0.1:1"], home: home)
        #expect(typo.status == 2)
        #expect(typo.standardError == "tt-connect: 'chek' is not a subcommand of tt-connect; did you mean check?\n")

        let port = try closedPort()
        let unused = try await tool(["-U", "bob:x", "--timeout", "2", "127.0.0.1:\(port)"], home: home)
        #expect(unused.status == 8, "\(unused.allOutput)")
        #expect(
            unused.standardError.hasPrefix("warning: --proxy-user bob is not used: the connection is direct ("),
            "\(unused.standardError)"
        )
        #expect(unused.standardError.contains("); give --proxy to use a proxy\n"))
        #expect(!unused.allOutput.contains("bob:x"))
    }

    @Test("tt-proxy: a runtime error is one line, not the usage")
    func proxyRuntimeError() async throws {
        let home = try TemporaryDirectory()
        let missing = home.file("nosuch")
        let result = try await tool(["--listen", "127.0.0.1:0", "--auth-file", missing], name: "tt-proxy", home: home)
        #expect(result.status == 2, "\(result.allOutput)")
        #expect(
            result.standardError == "tt-proxy: auth file \(missing): cannot read the file: No such file or directory\n"
        )
    }

    @Test("tt-ping checks the server's identity as check does: --server-key and known_servers, exit 10")
    func pingIdentity() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let right = try await tool(
                ["-c", "1", "--server-key", server.fingerprint, "-P", String(server.port), "127.0.0.1"],
                name: "tt-ping",
                home: home
            )
            #expect(right.status == 0, "\(right.allOutput)")

            let wrongKey = Self.otherFingerprint(server.fingerprint)
            let wrong = try await tool(
                ["-c", "1", "--server-key", wrongKey, "-P", String(server.port), "127.0.0.1"],
                name: "tt-ping",
                home: home
            )
            #expect(wrong.status == 10, "\(wrong.allOutput)")

            let known = home.file("known_servers")
            try "127.0.0.1:\(server.port) \(wrongKey)\n".write(toFile: known, atomically: true, encoding: .utf8)
            let remembered = try await tool(
                ["-c", "1", "--known-servers", known, "-P", String(server.port), "127.0.0.1"],
                name: "tt-ping",
                home: home
            )
            #expect(remembered.status == 10, "\(remembered.allOutput)")

            // First use: the identity is remembered in the default file, as check does.
            let first = try await tool(
                ["-c", "1", "-P", String(server.port), "127.0.0.1"],
                name: "tt-ping",
                home: home
            )
            #expect(first.status == 0, "\(first.allOutput)")
            let stored = try String(contentsOfFile: home.file(".config/tt-connect/known_servers"), encoding: .utf8)
            #expect(stored.contains("127.0.0.1:\(server.port) \(server.fingerprint)"), "\(stored)")
        }
    }

    static var scriptInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/script") }

    @Test(
        "pipe asks for the proxy password on /dev/tty when standard input is data",
        .enabled(if: scriptInstalled, "util-linux script is missing (scripts/install-deps)")
    )
    func pipePromptsOnTerminal() async throws {
        let home = try TemporaryDirectory()
        let authFile = BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures/htpasswd").path
        try await withStarted(EchoServer.start(greeting: Array("SSH-2.0-tt-test\r\n".utf8))) { echo in
            try await withStarted(ProxyProcess.start(["--auth-file", authFile])) { proxy in
                // Standard input is /dev/null, as ssh's ProxyCommand has its data there: the terminal is /dev/tty.
                let pipe =
                    [BuiltProducts.executable("tt-connect").path, "pipe", "-x", proxy.address, "-U", "alice"]
                    + ["127.0.0.1", String(echo.port)]
                let session = try TerminalSession(
                    URL(fileURLWithPath: "/bin/sh"),
                    ["-c", "exec \"$@\" </dev/null", "sh"] + pipe,
                    environment: ["HOME": home.path, "PATH": "/usr/bin:/bin"]
                )
                try await session.waitFor("Proxy password for alice: ")
                try session.type("secret")
                let status = try await session.finish()
                #expect(status == 0, "\(session.screen)")
                #expect(session.screen.contains("SSH-2.0-tt-test"), "\(session.screen)")
                #expect(!session.screen.contains("secret"), "the password was echoed: \(session.screen)")
            }
        }
    }

    static var setsidInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/setsid") }

    @Test(
        "without a terminal the proxy password comes from SSH_ASKPASS, asked with the prompt; its failure is one line",
        .enabled(if: setsidInstalled, "util-linux setsid is missing (scripts/install-deps)")
    )
    func askpassWithoutTerminal() async throws {
        let home = try TemporaryDirectory()
        let authFile = BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures/htpasswd").path
        let asked = home.file("asked")
        let askpass = home.file("askpass")
        try "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '\(asked)'\necho secret\n".write(
            toFile: askpass,
            atomically: true,
            encoding: .utf8
        )
        let refusing = home.file("refusing")
        try "#!/bin/sh\nexit 1\n".write(toFile: refusing, atomically: true, encoding: .utf8)
        for script in [askpass, refusing] { chmod(script, 0o700) }
        try await withStarted(EchoServer.start(greeting: Array("SSH-2.0-tt-test\r\n".utf8))) { echo in
            try await withStarted(ProxyProcess.start(["--auth-file", authFile])) { proxy in
                // setsid: a session of its own with no controlling terminal, so /dev/tty cannot be opened either.
                func pipe(askpass: String?) async throws -> ProcessResult {
                    try await runProcess(
                        URL(fileURLWithPath: "/usr/bin/setsid"),
                        [
                            "-w", BuiltProducts.executable("tt-connect").path, "pipe", "-x", proxy.address, "-U",
                            "alice", "127.0.0.1", String(echo.port),
                        ],
                        environment: ["HOME": home.path, "SSH_ASKPASS": askpass ?? "", "TT_PROXY_PASSWORD": ""],
                        input: Data()
                    )
                }
                let answered = try await pipe(askpass: askpass)
                #expect(answered.status == 0, "\(answered.allOutput)")
                #expect(answered.standardOutput == "SSH-2.0-tt-test\r\n", "\(answered.allOutput)")
                #expect(try String(contentsOfFile: asked, encoding: .utf8) == "Proxy password for alice: \n")

                let hint =
                    "tt-connect: --proxy-user alice has no password (set TT_PROXY_PASSWORD, or name a "
                    + "proxy-password-file in the config file)"
                let refused = try await pipe(askpass: refusing)
                #expect(refused.status == 2, "\(refused.allOutput)")
                #expect(refused.standardError == "\(hint); SSH_ASKPASS \(refusing) gave no password (exit 1)\n")

                let nobody = try await pipe(askpass: nil)
                #expect(nobody.status == 2, "\(nobody.allOutput)")
                #expect(
                    nobody.standardError
                        == "\(hint), and there is no terminal to ask for it (standard input is not a terminal, "
                        + "/dev/tty cannot be opened and SSH_ASKPASS is not set)\n"
                )
            }
        }
    }

    @Test("forward's pre-flight uses the relays' --tls: a target that does not speak TLS stops it at start (exit 9)")
    func forwardPreflightUsesRelayTLS() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(EchoServer.start(greeting: Array("SSH-2.0-tt-test\r\n".utf8))) { echo in
            // Were the pre-flight raw, it would pass and forward would listen until the timeout.
            let result = try await tool(
                ["forward", "--tls", "always", "--listen", "127.0.0.1:0", "127.0.0.1:\(echo.port)"],
                home: home,
                timeout: .seconds(30)
            )
            #expect(result.status == 9, "\(result.allOutput)")
            #expect(
                result.standardError.hasPrefix(
                    "tt-connect: pre-flight check failed, not listening: the TLS handshake with 127.0.0.1:\(echo.port) "
                        + "failed ("
                ),
                "\(result.standardError)"
            )
            #expect(result.standardError.hasSuffix("; try --tls never (--no-preflight starts anyway)\n"))
            #expect(!result.allOutput.contains("listening on"))
        }
    }

    @Test("--help of every tool and subcommand states each option's default once")
    func helpStatesDefaultsOnce() async throws {
        let home = try TemporaryDirectory()
        let commands: [(String, [String])] = [
            ("tt-server", ["serve"]), ("tt-server", ["add-user"]), ("tt-connect", ["check"]), ("tt-connect", ["ping"]),
            ("tt-connect", ["pipe"]), ("tt-connect", ["forward"]), ("tt-connect", ["doctor"]),
            ("tt-connect", ["setup"]), ("tt-ping", []), ("tt-proxy", []),
        ]
        for (name, subcommand) in commands {
            let help = try await tool(subcommand + ["--help"], name: name, home: home)
            #expect(help.status == 0, "\(name) \(subcommand): \(help.allOutput)")
            let options = Self.optionParagraphs(help.standardOutput)
            #expect(!options.isEmpty, "\(name) \(subcommand): \(help.standardOutput)")
            for option in options {
                #expect(
                    option.lowercased().components(separatedBy: "default").count <= 2,
                    "\(name) \(subcommand): \(option)"
                )
            }
        }
        // A default computed on this machine is said in words: the man page is built elsewhere.
        let serve = try await tool(["serve", "--help"], name: "tt-server", home: home)
        #expect(
            Self.optionParagraphs(serve.standardOutput).contains(
                "--max-login-checks <COUNT> Password checks at once (default: half this machine's cores, at least 1)."
            ),
            "\(serve.standardOutput)"
        )
    }

    /// The OPTIONS section of a `--help` text, one string per option with its wrapped lines joined.
    static func optionParagraphs(_ help: String) -> [String] {
        var options: [String] = []
        var inOptions = false
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "OPTIONS:" {
                inOptions = true
                continue
            }
            guard inOptions else { continue }
            if line.isEmpty || !line.hasPrefix(" ") { break }
            let text = String(line.trimmingCharacters(in: .whitespaces))
            if line.hasPrefix("  -") {
                options.append(text.replacing(/\ {2,}/, with: " "))
            } else if !options.isEmpty {
                options[options.count - 1] += " " + text
            }
        }
        return options
    }

    @Test(
        "add-user asks twice on a terminal: different entries change nothing, equal ones add the user",
        .enabled(if: scriptInstalled, "util-linux script is missing (scripts/install-deps)")
    )
    func addUserConfirms() async throws {
        let directory = try TemporaryDirectory()
        let users = directory.file("users")
        let environment = ["HOME": directory.path, "PATH": "/usr/bin:/bin"]
        let arguments = ["add-user", "bob", "--users", users, "--iterations", "1000"]
        let differ = try TerminalSession(BuiltProducts.executable("tt-server"), arguments, environment: environment)
        try await differ.waitFor("Password for bob: ")
        try differ.type("one")
        try await differ.waitFor("Again, to confirm: ")
        try differ.type("two")
        #expect(try await differ.finish() == 2, "\(differ.screen)")
        #expect(differ.screen.contains("the two passwords entered differ; nothing changed in \(users)\r\n"))
        #expect(!FileManager.default.fileExists(atPath: users))

        let same = try TerminalSession(BuiltProducts.executable("tt-server"), arguments, environment: environment)
        try await same.waitFor("Password for bob: ")
        try same.type("same")
        try await same.waitFor("Again, to confirm: ")
        try same.type("same")
        #expect(try await same.finish() == 0, "\(same.screen)")
        #expect(same.screen.contains("added user bob to \(users)\r\n"), "\(same.screen)")
        #expect(!same.screen.contains("same\r"), "the password was echoed: \(same.screen)")
    }

    /// A well-formed fingerprint that is not `fingerprint` (one base64 character changed).
    static func otherFingerprint(_ fingerprint: String) -> String {
        var characters = Array(fingerprint)
        let index = characters.count - 5
        characters[index] = characters[index] == "A" ? "B" : "A"
        return String(characters)
    }
}

@Suite("Failures before the proxy's answer ends are the proxy's, TLS on or off")
struct ProxyStageWhateverTLSTests {
    @Test(
        "a broken CONNECT answer has the same exit code and stage with --tls never and always; an oversized head is 7",
        arguments: ["headers-too-large", "garbage", "empty-reply", "reset"]
    )
    func sameWithAndWithoutTLS(scenario: String) async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ProxyProcess.start(scenario: "\(scenario).scenario")) { proxy in
            var outcomes: [String: String] = [:]
            for tls in ["never", "always"] {
                let result = try await tool(
                    ["--json", "--tls", tls, "--timeout", "20", "--proxy", proxy.address, "127.0.0.1:9"],
                    home: home
                )
                let stage = try jsonObject(result)["stage"] as? String ?? "?"
                #expect(["proxy", "tunnel"].contains(stage), "\(scenario) --tls \(tls): \(result.standardOutput)")
                outcomes[tls] = "exit \(result.status) at \(stage)"
            }
            #expect(outcomes["never"] == outcomes["always"], "\(scenario): \(outcomes)")
            if scenario == "headers-too-large" { #expect(outcomes["always"] == "exit 7 at tunnel", "\(outcomes)") }
        }
    }
}

@Suite("Issue 22 wording, each message whole")
struct WordingTests {
    /// The detail of check's `✗ STAGE  TIME  DETAIL` line.
    static func failedDetail(_ output: String, stage: String) -> String? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("✗ \(stage)") }),
            let range = line.range(of: " ms  ")
        else { return nil }
        return String(line[range.upperBound...])
    }

    @Test("a web server answering directly: what it sent is quoted once")
    func webServer() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(EchoServer.start(greeting: Array("<!DOCTYPE html><html></html>".utf8))) { web in
            let result = try await tool(["127.0.0.1:\(web.port)"], home: home)
            #expect(result.status == 9)
            #expect(
                Self.failedDetail(result.standardOutput, stage: "handshake")
                    == "handshake with 127.0.0.1:\(web.port) failed: the peer did not answer with the framework "
                    + "protocol magic 'TTFW': received \"<!DOCT\"; the peer is not a framework server",
                "\(result.standardOutput)"
            )
        }
    }

    @Test("--proxy-basic to a proxy offering only Digest names the flag to use")
    func schemeNotOffered() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ProxyProcess.start(scenario: "407-digest.scenario")) { proxy in
            let result = try await tool(
                ["--proxy-basic", "-x", proxy.address, "-U", "bob:x", "127.0.0.1:5000"],
                home: home
            )
            #expect(result.status == 4)
            #expect(
                Self.failedDetail(result.standardOutput, stage: "tunnel")
                    == "proxy http://\(proxy.address) (from --proxy) does not offer the basic authentication we were "
                    + "told to use (it offers Digest); use --proxy-auth any, or --proxy-auth with one of those "
                    + "(proxy credentials: --proxy-user USER:PASS; scheme: --proxy-auth)",
                "\(result.standardOutput)"
            )
        }
    }

    @Test("a timeout too short for any server blames the timeout, not the peer")
    func tooShortTimeout() async throws {
        let home = try TemporaryDirectory()
        // Listening, never accepting: the kernel completes the connect, no hello ever comes.
        let (descriptor, port) = try bindLoopback(listenBacklog: 8)
        defer { close(descriptor) }
        let result = try await tool(["--timeout", "0.03", "127.0.0.1:\(port)"], home: home)
        #expect(result.status == 12, "\(result.allOutput)")
        let detail = Self.failedDetail(result.standardOutput, stage: "handshake") ?? ""
        #expect(
            detail.wholeMatch(
                of:
                    /handshake: the connect timeout \([0-9.]+ ms\) ran out before 127\.0\.0\.1:\d+'s framework hello could arrive: far too short for any server; give a timeout in seconds \(--timeout 10\)/
            ) != nil,
            "\(result.standardOutput)"
        )
    }
}
