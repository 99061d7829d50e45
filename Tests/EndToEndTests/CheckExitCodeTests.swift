import Foundation
import TTTestSupport
import Testing

/// `tt-connect check` against real peers, one failure per exit code of the table in docs/CLI.md, "Exit codes".
@Suite("tt-connect check exit codes")
struct CheckExitCodeTests {
    @Test("0: a direct check with login prints every stage as it completes")
    func success() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let result = try await tool(["-S", "\(serverUser):\(serverPassword)@\(server.address)"], home: home)
            #expect(result.status == 0, "\(result.allOutput)")
            let lines = result.standardOutput.split(separator: "\n").map(String.init)
            #expect(lines.count == 5)
            #expect(lines[0].hasPrefix("✓ server ") && lines[0].hasSuffix("connected to \(server.address)"))
            #expect(lines[1].hasPrefix("✓ handshake ") && lines[1].contains("\(server.fingerprint) new, remembered in"))
            #expect(lines[2].hasPrefix("✓ login ") && lines[2].hasSuffix("logged in as \(serverUser)"))
            #expect(lines[3].hasPrefix("✓ ping ") && lines[3].contains("RC(Request OK)"))
            #expect(lines[4] == "framework server \(server.address) is reachable")
            #expect(!result.allOutput.contains(serverPassword))

            // Trust on first use: the second run finds the key it remembered.
            let again = try await tool(["--json", server.address], home: home)
            #expect(again.status == 0)
            let json = try jsonObject(again)
            #expect(json["ok"] as? Bool == true)
            #expect(json["exit_code"] as? Int == 0)
            #expect(json["proxy_status"] is NSNull)
            #expect(json["stage"] is NSNull)
            #expect(json["server_identity"] as? String == server.fingerprint)
            #expect((json["elapsed_ms"] as? Double ?? 0) > 0)
            let stages = (json["stages"] as? [[String: Any]] ?? []).compactMap { $0["stage"] as? String }
            #expect(stages == ["server", "handshake", "ping"])
        }
    }

    @Test("2: an unsupported proxy scheme is a usage error before any network work")
    func badProxyURL() async throws {
        let home = try TemporaryDirectory()
        let result = try await tool(["--proxy", "socks5://user:hunter2@127.0.0.1:1080", "127.0.0.1:1"], home: home)
        #expect(result.status == 2)
        #expect(result.standardError.contains("unsupported proxy scheme \"socks5://\""))
        #expect(!result.allOutput.contains("hunter2"))
    }

    @Test("2: a bad logon string port, an unknown flag and --config without --connection are usage errors")
    func usageErrors() async throws {
        let home = try TemporaryDirectory()
        let port = try await tool(["-S", "fred:x@host:99999"], home: home)
        #expect(port.status == 2)
        // After a password the server part is not quoted (it may be the tail of a password holding '@').
        #expect(port.standardError.contains("the port is not a number from 1 to 65535"))
        #expect(!port.allOutput.contains("fred:x"))
        let flag = try await tool(["--no-such-flag"], home: home)
        #expect(flag.status == 2)
        #expect(flag.standardError.contains("Unknown option '--no-such-flag'"))
        let config = try await tool(["--config", home.file("none")], home: home)
        #expect(config.status == 2)
        #expect(config.standardError.contains("--config needs --connection NAME"))
    }

    @Test("2: a missing password without a terminal, and a missing config file, are usage errors (JSON too)")
    func missingPasswordAndConfig() async throws {
        let home = try TemporaryDirectory()
        let password = try await tool(["-S", "fred@127.0.0.1:1"], home: home, input: Data())
        #expect(password.status == 2)
        #expect(password.standardError.contains("-S gives user fred but no password"))
        #expect(password.standardError.contains("standard input is not a terminal"))
        let proxyUser = try await tool(["--proxy", "127.0.0.1:1", "--proxy-user", "fred", "127.0.0.1:1"], home: home)
        #expect(proxyUser.status == 2)
        #expect(proxyUser.standardError.contains("--proxy-user fred has no password"))
        let config = try await tool(
            ["--json", "--config", home.file("missing.conf"), "--connection", "office"],
            home: home
        )
        #expect(config.status == 2)
        let json = try jsonObject(config)
        #expect(json["exit_code"] as? Int == 2)
        #expect(json["stage"] as? String == "options")
        #expect((json["message"] as? String ?? "").contains("cannot read the config file"))
    }

    @Test("2 then 0: a config file entry supplies the server, its pinned key, and no proxy for loopback")
    func configFile() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let path = home.file("tt.conf")
            try """
            [connection lab]
            server = 127.0.0.1
            port = \(server.port)
            server-key = \(server.fingerprint)
            """.write(toFile: path, atomically: true, encoding: .utf8)
            let result = try await tool(
                ["--config", path, "--connection", "lab"],
                home: home,
                environment: ["HTTPS_PROXY": "http://127.0.0.1:1"]
            )
            #expect(result.status == 0, "\(result.allOutput)")
            #expect(result.standardOutput.contains("matches the pinned key"))
            let unknown = try await tool(["--config", path, "--connection", "office"], home: home)
            #expect(unknown.status == 2)
            #expect(unknown.standardError.contains("no connection \"office\" in \(path) (it defines: lab)"))
        }
    }

    @Test("3: a proxy port nobody listens on")
    func proxyUnreachable() async throws {
        let home = try TemporaryDirectory()
        let port = try closedPort()
        let result = try await tool(["--proxy", "127.0.0.1:\(port)", "127.0.0.1:5000"], home: home)
        #expect(result.status == 3)
        #expect(result.standardOutput.contains("✗ proxy"))
        #expect(result.standardOutput.contains("refused the connection: nothing is listening on port \(port)"))
    }

    @Test("4: tt-proxy with Basic auth and no credentials, then wrong ones (--json shows 407)")
    func proxyAuthentication() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(
            ProxyProcess.start([
                "--auth-file", BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures/htpasswd").path,
            ])
        ) { proxy in
            let none = try await tool(["--proxy", proxy.address, "127.0.0.1:5000"], home: home)
            #expect(none.status == 4)
            // The proxy itself was reached: that stage passed, the CONNECT failed.
            #expect(none.standardOutput.contains("✓ proxy"))
            #expect(none.standardOutput.contains("✗ tunnel"))
            #expect(none.standardOutput.contains("it offers Basic"))
            #expect(none.standardOutput.contains("--proxy-user USER:PASS"))
            let wrong = try await tool(
                ["--json", "--proxy", proxy.address, "--proxy-user", "alice:not-the-Passw0rd", "127.0.0.1:5000"],
                home: home
            )
            #expect(wrong.status == 4)
            let json = try jsonObject(wrong)
            #expect(json["proxy_status"] as? Int == 407)
            #expect(json["stage"] as? String == "tunnel")
            #expect(json["exit_code"] as? Int == 4)
            #expect((json["message"] as? String ?? "").contains("rejected the credentials of user \"alice\""))
            #expect(!wrong.allOutput.contains("not-the-Passw0rd"))
        }
    }

    @Test("5: the proxy refuses this port (403)")
    func proxyRefused() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start(["--allow-ports", "443"])) { proxy in
                let result = try await tool(["--json", "--proxy", proxy.address, server.address], home: home)
                #expect(result.status == 5)
                let json = try jsonObject(result)
                #expect(json["proxy_status"] as? Int == 403)
                let message = json["message"] as? String ?? ""
                #expect(message.contains("refused the tunnel to \(server.address)"))
                #expect(message.contains("forbid CONNECT to this host or port \(server.port)"))
            }
        }
    }

    @Test("6: the proxy cannot reach the server (502)")
    func proxyGatewayFailure() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ProxyProcess.start()) { proxy in
            let target = "127.0.0.1:\(try closedPort())"
            let result = try await tool(["--proxy", proxy.address, target], home: home)
            #expect(result.status == 6)
            #expect(result.standardOutput.contains("✗ tunnel"))
            #expect(result.standardOutput.contains("could not reach the server \(target)"))
        }
    }

    @Test("7: the proxy answers garbage")
    func proxyGarbage() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ProxyProcess.start(scenario: "garbage.scenario")) { proxy in
            let result = try await tool(["--proxy", proxy.address, "127.0.0.1:5000"], home: home)
            #expect(result.status == 7)
            #expect(result.standardOutput.contains("✗ tunnel"))
            #expect(result.standardOutput.contains(proxy.address))
        }
    }

    @Test("8: a direct connection to a closed port")
    func serverUnreachable() async throws {
        let home = try TemporaryDirectory()
        let port = try closedPort()
        let result = try await tool(["--json", "127.0.0.1:\(port)"], home: home)
        #expect(result.status == 8)
        let json = try jsonObject(result)
        #expect(json["stage"] as? String == "server")
        #expect(json["proxy_status"] is NSNull)
        #expect((json["message"] as? String ?? "").contains("refused the connection"))
    }

    @Test("9: a web page behind a 200 is not a framework server")
    func webPageBehind200() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ProxyProcess.start(scenario: "web-server-200-page.scenario")) { proxy in
            // Raw (--tls never), so the page itself reaches the handshake; with TLS it fails the TLS handshake (9 too).
            let result = try await tool(["--tls", "never", "--proxy", proxy.address, "127.0.0.1:5000"], home: home)
            #expect(result.status == 9)
            #expect(result.standardOutput.contains("✓ tunnel"))
            #expect(result.standardOutput.contains("✗ handshake"))
            #expect(result.standardOutput.contains("the proxy or the target behind it is not a framework server"))
            #expect(result.standardOutput.contains("received \"<html>\""), "\(result.standardOutput)")
        }
    }

    @Test("9: a direct connection to something that is not a framework server")
    func echoServerIsNotFramework() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(EchoServer.start(greeting: Array("SSH-2.0-OpenSSH_9.2\r\n".utf8))) { echo in
            let result = try await tool(["127.0.0.1:\(echo.port)"], home: home)
            #expect(result.status == 9)
            #expect(result.standardOutput.contains("the peer is not a framework server"))
            #expect(result.standardOutput.contains("received \"SSH-2."), "\(result.standardOutput)")
        }
    }

    @Test("10: a pinned key or a known-servers entry that does not match")
    func identityMismatch() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let otherKey = "SHA256:" + String(repeating: "A", count: 43)
            let pinned = try await tool(["--server-key", otherKey, server.address], home: home)
            #expect(pinned.status == 10)
            #expect(pinned.standardOutput.contains("✗ handshake"))
            #expect(pinned.standardOutput.contains("server identity mismatch for \(server.address)"))
            #expect(pinned.standardOutput.contains("expected \(otherKey)"))

            let known = home.file("known_servers")
            try "\(server.address) \(otherKey)\n".write(toFile: known, atomically: true, encoding: .utf8)
            let recorded = try await tool(["--json", "--known-servers", known, server.address], home: home)
            #expect(recorded.status == 10)
            let json = try jsonObject(recorded)
            #expect(json["server_identity"] as? String == server.fingerprint)
            #expect((json["message"] as? String ?? "").contains("recorded in \(known)"))
        }
    }

    @Test("11: a wrong password is rejected at login, and never printed")
    func loginRejected() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let result = try await tool(["-S", "\(serverUser):Wrong-Secret-77@\(server.address)"], home: home)
            #expect(result.status == 11)
            #expect(result.standardOutput.contains("✗ login"))
            #expect(result.standardOutput.contains("login as fred rejected by \(server.address)"))
            #expect(!result.allOutput.contains("Wrong-Secret-77"))
        }
    }

    @Test("12: a proxy that never answers runs into --timeout")
    func timedOut() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ProxyProcess.start(scenario: "never-answers.scenario")) { proxy in
            let result = try await tool(
                ["--json", "--timeout", "1", "--proxy", proxy.address, "127.0.0.1:5000"],
                home: home
            )
            #expect(result.status == 12)
            let json = try jsonObject(result)
            #expect(json["exit_code"] as? Int == 12)
            #expect(json["stage"] as? String == "tunnel")
            #expect(
                (json["message"] as? String ?? "").contains(
                    "did not answer the CONNECT request for 127.0.0.1:5000 before the deadline passed, after "
                )
            )
            let elapsed = json["elapsed_ms"] as? Double ?? 0
            #expect(elapsed >= 900 && elapsed < 5000)
        }
    }
}
