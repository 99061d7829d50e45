import Foundation
import TTTestSupport
import Testing

/// ssh's `ProxyCommand` forms, `forward` as `ssh -L` users write it, and `-v` showing the CONNECT exchange as
/// `curl -v` does (issue 11, items 1 and 3).
@Suite("ssh ProxyCommand forms, forward, and the -v trace")
struct SshAndTraceTests {
    @Test("pipe HOST PORT (ssh's %h %p) works for a bare IPv6 host, through tt-proxy and directly")
    func pipeTwoArguments() async throws {
        let home = try TemporaryDirectory()
        let hello = Data("SSH-2.0-OpenSSH_9.2 two-argument form\r\n".utf8)
        try await withStarted(EchoServer.start(host: "::1")) { echo6 in
            try await withStarted(EchoServer.start()) { echo4 in
                try await withStarted(ProxyProcess.start()) { proxy in
                    for target in [
                        ["::1", "\(echo6.port)"], ["[::1]", "\(echo6.port)"], ["127.0.0.1", "\(echo4.port)"],
                    ] {
                        for route in [["--proxy", proxy.address], []] {
                            let result = try await tool(
                                ["pipe"] + route + target,
                                home: home,
                                input: hello,
                                timeout: .seconds(30)
                            )
                            #expect(result.status == 0, "\(route) \(target): \(result.standardError)")
                            #expect(Data(result.standardOutput.utf8) == hello, "\(route) \(target)")
                        }
                    }
                }
            }
        }
        let badPort = try await tool(["pipe", "::1", "http"], home: home)
        #expect(badPort.status == 2)
        #expect(badPort.standardError.contains("port 'http' is not a number"))
    }

    @Test("forward --listen localhost:0 listens on 127.0.0.1, as ssh -L takes localhost")
    func forwardLocalhost() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(EchoServer.start()) { echo in
            let forward = try RunningProcess(
                BuiltProducts.executable("tt-connect"),
                ["forward", "--listen", "localhost:0", "127.0.0.1:\(echo.port)"],
                environment: ["HOME": home.path, "NO_PROXY": "", "no_proxy": ""]
            )
            try await withStarted(forward) { forward in
                try await forward.waitForOutput(containing: "listening on 127.0.0.1:")
            }
        }
    }

    @Test("forward checks the route at start: exit 8 for a closed target, 5 for a proxy's 403; --no-preflight listens")
    func forwardPreflight() async throws {
        let home = try TemporaryDirectory()
        let closed = "127.0.0.1:\(try closedPort())"
        let direct = try await tool(["forward", "--listen", "127.0.0.1:0", closed], home: home)
        #expect(direct.status == 8, "\(direct.allOutput)")
        #expect(direct.standardError.contains("pre-flight check failed, not listening"))
        #expect(direct.standardError.contains("refused the connection"))
        #expect(!direct.standardOutput.contains("listening on"))
        try await withStarted(ProxyProcess.start(scenario: "403-forbidden.scenario")) { proxy in
            let refused = try await tool(
                ["forward", "--listen", "127.0.0.1:0", "--proxy", proxy.address, closed],
                home: home
            )
            #expect(refused.status == 5, "\(refused.allOutput)")
            #expect(refused.standardError.contains("refused the tunnel"))
        }
        let skipped = try RunningProcess(
            BuiltProducts.executable("tt-connect"),
            ["forward", "--no-preflight", "--listen", "127.0.0.1:0", closed],
            environment: ["HOME": home.path, "NO_PROXY": "", "no_proxy": ""]
        )
        try await withStarted(skipped) { skipped in
            try await skipped.waitForOutput(containing: "listening on 127.0.0.1:")
        }
    }

    @Test("-v shows the CONNECT heads with the credentials redacted; -vv adds libcurl's trace, still redacted")
    func verboseTrace() async throws {
        let home = try TemporaryDirectory()
        let password = "Wrong-Pa55word"
        // What a leak would look like: the Basic token of alice:Wrong-Pa55word.
        let token = Data("alice:\(password)".utf8).base64EncodedString()
        try await withStarted(ProxyProcess.start(scenario: "407-multiple-challenges.scenario")) { proxy in
            let target = "127.0.0.1:\(try closedPort())"
            let basic = ["-x", proxy.address, "-U", "alice:\(password)", "--proxy-basic", target]
            let heads = try await tool(["-v"] + basic, home: home)
            #expect(heads.status == 4)
            let stderr = heads.standardError
            for line in [
                "> CONNECT \(target) HTTP/1.1", "> Host: \(target)", "> Proxy-Authorization: Basic <redacted>",
                "< HTTP/1.1 407 Proxy Authentication Required", "< Proxy-Authenticate: Negotiate",
                "< Proxy-Authenticate: NTLM",
            ] {
                #expect(stderr.split(separator: "\n").contains { $0 == line }, "missing '\(line)' in \(stderr)")
            }
            #expect(!stderr.contains("* Establish HTTP proxy tunnel"), "libcurl's text is for -vv")
            #expect(!heads.allOutput.contains(password) && !heads.allOutput.contains(token))

            let full = try await tool(["-vv"] + basic, home: home)
            #expect(full.status == 4)
            #expect(full.standardError.contains("* Establish HTTP proxy tunnel to \(target)"))
            #expect(full.standardError.contains("> Proxy-Authorization: Basic <redacted>"))
            #expect(!full.allOutput.contains(password) && !full.allOutput.contains(token))

            // NTLM: the type-1 token the client sends is redacted too.
            let ntlm = try await tool(
                ["-vv", "-x", proxy.address, "-U", "alice:\(password)", "--proxy-ntlm", target],
                home: home
            )
            #expect(ntlm.status == 4)
            #expect(ntlm.standardError.contains("> Proxy-Authorization: NTLM <redacted>"), "\(ntlm.standardError)")
            #expect(!ntlm.standardError.contains("TlRMTVNT"))
            #expect(!ntlm.allOutput.contains(password))
        }
    }
}
