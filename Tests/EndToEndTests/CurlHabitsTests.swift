import Foundation
import TTTestSupport
import Testing

/// curl's proxy flags, `--noproxy`, help texts and values that never come back in an error (issue 11, item 2).
@Suite("tt-connect takes curl's proxy flags")
struct CurlHabitsTests {
    /// A curl spelling and the long form it stands for; both run against the same proxy and must agree.
    struct AliasCase: Sendable, CustomTestStringConvertible {
        var alias: [String]
        var long: [String]
        var expectedStatus: Int32
        var testDescription: String { alias.joined(separator: " ") }
    }

    static let aliasCases: [AliasCase] = [
        // 407-basic.scenario tunnels for alice:secret only.
        AliasCase(alias: ["-U", "alice:secret"], long: ["--proxy-user", "alice:secret"], expectedStatus: 0),
        AliasCase(alias: ["-U", "alice:Wrong-Pa55"], long: ["--proxy-user", "alice:Wrong-Pa55"], expectedStatus: 4),
        AliasCase(alias: [], long: [], expectedStatus: 4),
        AliasCase(
            alias: ["-U", "alice:secret", "--proxy-anyauth"],
            long: ["--proxy-user", "alice:secret", "--proxy-auth", "any"],
            expectedStatus: 0
        ),
        AliasCase(
            alias: ["-U", "alice:secret", "--proxy-basic"],
            long: ["--proxy-user", "alice:secret", "--proxy-auth", "basic"],
            expectedStatus: 0
        ),
        AliasCase(
            alias: ["-U", "alice:secret", "--proxy-digest"],
            long: ["--proxy-user", "alice:secret", "--proxy-auth", "digest"],
            expectedStatus: 4
        ),
        AliasCase(
            alias: ["-U", "alice:secret", "--proxy-ntlm"],
            long: ["--proxy-user", "alice:secret", "--proxy-auth", "ntlm"],
            expectedStatus: 4
        ),
        AliasCase(
            alias: ["-U", "alice:secret", "--proxy-negotiate"],
            long: ["--proxy-user", "alice:secret", "--proxy-auth", "negotiate"],
            expectedStatus: 4
        ),
    ]

    /// One server and proxy for every case, run one after the other: the suite starts beside real squids, and a
    /// burst of processes on a loaded machine would slow their start.
    @Test("-x, -U and --proxy-<scheme> behave exactly as --proxy, --proxy-user and --proxy-auth")
    func aliases() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start(scenario: "407-basic.scenario")) { proxy in
                for testCase in Self.aliasCases {
                    let short = try await tool(
                        ["--json", "-x", proxy.address] + testCase.alias + [server.address],
                        home: home
                    )
                    let long = try await tool(
                        ["--json", "--proxy", proxy.address] + testCase.long + [server.address],
                        home: home
                    )
                    #expect(short.status == testCase.expectedStatus, "\(short.allOutput)")
                    #expect(long.status == testCase.expectedStatus, "\(long.allOutput)")
                    let shortJSON = try jsonObject(short)
                    let longJSON = try jsonObject(long)
                    #expect(shortJSON["message"] as? String == longJSON["message"] as? String)
                    #expect(shortJSON["stage"] as? String == longJSON["stage"] as? String)
                    #expect(!short.allOutput.contains("Wrong-Pa55") && !long.allOutput.contains("Wrong-Pa55"))
                }
            }
        }
    }

    @Test("two scheme flags, or one with --proxy-auth, are a usage error")
    func conflictingSchemes() async throws {
        let home = try TemporaryDirectory()
        for arguments in [["--proxy-basic", "--proxy-ntlm"], ["--proxy-auth", "digest", "--proxy-basic"]] {
            let result = try await tool(["-x", "127.0.0.1:1"] + arguments + ["127.0.0.1:1"], home: home)
            #expect(result.status == 2)
            #expect(result.standardError.contains("give one proxy authentication scheme"))
        }
    }

    @Test("--noproxy LIST: listed hosts go direct even past a command-line proxy; others use it")
    func noproxyList() async throws {
        let home = try TemporaryDirectory()
        let deadProxy = "127.0.0.1:\(try closedPort())"
        try await withStarted(ServerProcess.start()) { server in
            for list in ["127.0.0.1", "example.com,127.0.0.1", "*"] {
                let direct = try await tool(["-v", "-x", deadProxy, "--noproxy", list, server.address], home: home)
                #expect(direct.status == 0, "\(list): \(direct.allOutput)")
                #expect(direct.standardError.contains("direct connection: --noproxy matches \(server.address)"))
            }
            let proxied = try await tool(["-x", deadProxy, "--noproxy", "example.com", server.address], home: home)
            #expect(proxied.status == 3, "\(proxied.allOutput)")
        }
    }

    @Test("a value error never echoes the value: --proxy-auth alice:secret, a --proxy-header token")
    func valueErrorsDoNotEcho() async throws {
        let home = try TemporaryDirectory()
        let auth = try await tool(["--proxy-auth", "alice:S3cret-value", "127.0.0.1:1"], home: home)
        #expect(auth.status == 2)
        #expect(auth.standardError.contains("--proxy-auth must be any, basic, digest, ntlm or negotiate"))
        #expect(!auth.allOutput.contains("S3cret-value"))
        let header = try await tool(
            ["-x", "127.0.0.1:1", "--proxy-header", "X-Token secret-T0ken-value", "127.0.0.1:1"],
            home: home
        )
        #expect(header.status == 2)
        #expect(header.standardError.contains("--proxy-header must be 'Name: value'"))
        #expect(!header.allOutput.contains("secret-T0ken-value"))
        // Credentials typed where an address belongs are not repeated either.
        for (arguments, name) in [
            (["alice:S3cret-value@host:5000"], "tt-connect"), (["pipe", "alice:S3cret-value@host:5000"], "tt-connect"),
            (["forward", "--listen", "127.0.0.1:0", "alice:S3cret-value@host:5000"], "tt-connect"),
            (["alice:S3cret-value@host"], "tt-ping"),
        ] {
            let result = try await tool(arguments, name: name, home: home)
            #expect(result.status == 2, "\(arguments): \(result.allOutput)")
            #expect(result.standardError.contains("the address contains '@'"))
            #expect(!result.allOutput.contains("S3cret-value"))
        }
    }

    @Test("--help shows check's main flags and the defaults; check --help shows every alias and default")
    func helpTexts() async throws {
        let home = try TemporaryDirectory()
        let root = try await tool(["--help"], home: home)
        #expect(root.status == 0)
        for text in [
            "-x, --proxy", "-U, --proxy-user", "--proxy-auth SCHEME", "any (default)", "--noproxy LIST",
            "~/.config/tt-connect/config", "-S user:password@server:port", "--json", "SUBCOMMANDS",
        ] {
            #expect(root.standardOutput.contains(text), "\(text) missing from tt-connect --help")
        }
        let check = try await tool(["check", "--help"], home: home)
        #expect(check.status == 0)
        for text in [
            "-x, --proxy", "-U, --proxy-user", "--proxy-anyauth", "--proxy-basic", "--proxy-digest",
            "--proxy-ntlm", "--proxy-negotiate", "--noproxy", "(default: any", "~/.config/tt-connect/config)",
        ] {
            #expect(check.standardOutput.contains(text), "\(text) missing from tt-connect check --help")
        }
    }

    @Test("a flag typed without its dashes (tt-connect version) gets a hint")
    func typoHint() async throws {
        let home = try TemporaryDirectory()
        let result = try await tool(["--timeout", "2", "version"], home: home)
        #expect(result.status != 0)
        #expect(result.standardError.contains("'version' was taken as the server name; did you mean --version?"))
        let real = try await tool(["--timeout", "2", "127.0.0.1:\(try closedPort())"], home: home)
        #expect(!real.standardError.contains("did you mean"))
    }
}
