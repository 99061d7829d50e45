import Foundation
import TTTestSupport
import Testing

/// Issue 8: the framework connection inside real TLS passes inspecting proxies, and interception is told apart
/// from failure. One squid-openssl (``InspectingSquid``) serves every proxy case of the suite.
@Suite("TLS through inspecting proxies")
struct TLSInterceptionTests {
    @Test(
        "squid-openssl: peek+splice, bump+tunnel, bump+respond and SSL_ports, each as a user meets it",
        .enabled(if: InspectingSquid.enabled, "squid-openssl is not unpacked (scripts/install-deps)")
    )
    func throughInspectingSquid() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            // A host name, so that the ClientHello carries SNI.
            let target = "localhost:\(server.port)"
            try await InspectingSquid.with(extraSSLPort: server.port) { squid in
                // Peek and splice: TLS (the default through a proxy) passes, squid logs the SNI.
                let peek = try await tool(
                    [
                        "--json", "--server-key", server.fingerprint, "--proxy", "127.0.0.1:\(squid.peekSplicePort)",
                        target,
                    ],
                    home: home
                )
                #expect(peek.status == 0, "\(peek.allOutput)")
                let json = try jsonObject(peek)
                let tls = json["tls"] as? [String: Any] ?? [:]
                #expect(tls["version"] as? String == "TLS 1.3")
                #expect(tls["sni"] as? String == "localhost")
                #expect(tls["interception_suspected"] as? Bool == false)
                #expect(tls["self_signed"] as? Bool == true)
                let stages = (json["stages"] as? [[String: Any]] ?? []).compactMap { $0["stage"] as? String }
                #expect(stages == ["proxy", "tunnel", "tls", "handshake", "ping"])
                #expect(
                    await squid.waitForAccessLog(
                        containingAll: ["port=\(squid.peekSplicePort)", "sni=localhost", "bump=splice"]
                    ),
                    "\(squid.accessLog)"
                )

                // The same proxy without TLS: the tunnel is closed at once, which is interception, not exit 9.
                let raw = try await tool(
                    ["--tls", "never", "--proxy", "127.0.0.1:\(squid.peekSplicePort)", target],
                    home: home
                )
                #expect(raw.status == 13, "\(raw.allOutput)")
                #expect(
                    raw.standardOutput.contains("closed the tunnel to \(target) as soon as non-TLS bytes were sent")
                )
                #expect(raw.standardOutput.contains("use --tls"))

                // Bump and tunnel: squid decrypts and forwards; the check passes and says who issued the certificate.
                let tunnel = try await tool(
                    ["--server-key", server.fingerprint, "--proxy", "127.0.0.1:\(squid.bumpTunnelPort)", target],
                    home: home
                )
                #expect(tunnel.status == 0, "\(tunnel.allOutput)")
                #expect(tunnel.standardOutput.contains("✓ tls "))
                #expect(tunnel.standardOutput.contains("note: the proxy intercepts TLS"))
                #expect(tunnel.standardOutput.contains("issued by CN=\(InspectingSquid.caName)"))
                #expect(tunnel.standardOutput.contains("pinned identity still protect the session"))

                // Issue 22: --tls-verify refuses the certificate squid made up: the proxy and tunnel stages passed,
                // TLS is where it stops, and interception is exit 13, not 10 (which says the server's key is wrong).
                let proxyName = "127.0.0.1:\(squid.bumpTunnelPort)"
                let verified = try await tool(["--tls-verify", "--proxy", proxyName, target], home: home)
                #expect(verified.status == 13, "\(verified.allOutput)")
                #expect(
                    Self.marks(verified.standardOutput) == ["✓ proxy", "✓ tunnel", "✗ tls"],
                    "\(verified.allOutput)"
                )
                #expect(
                    WordingTests.failedDetail(verified.standardOutput, stage: "tls")
                        == "the proxy \(proxyName) intercepts TLS: the certificate for localhost was issued by "
                        + "CN=\(InspectingSquid.caName), not by the server, and --tls-verify refuses it (SSL certificate "
                        + "problem: self-signed certificate in certificate chain). The framework's pinned identity "
                        + "protects the session without it: drop --tls-verify, trust that CA with --tls-cacert, or ask "
                        + "the proxy's administrator for a splice (no-bump) exception for \(target) (squid: `ssl_bump "
                        + "splice` for this host and port) (proxy http://\(proxyName) from --proxy)",
                    "\(verified.standardOutput)"
                )
                // --json carries what the refused handshake showed: squid's CA as the issuer, not verified.
                let verifiedJSON = try await tool(["--json", "--tls-verify", "--proxy", proxyName, target], home: home)
                #expect(verifiedJSON.status == 13, "\(verifiedJSON.allOutput)")
                let refused = try jsonObject(verifiedJSON)["tls"] as? [String: Any] ?? [:]
                #expect((refused["issuer"] as? String)?.contains("CN=\(InspectingSquid.caName)") == true, "\(refused)")
                #expect(refused["interception_suspected"] as? Bool == true)
                #expect(refused["chain_verified"] as? Bool == false)

                // The server's own self-signed certificate, passed untouched by peek+splice, is not interception.
                let spliced = try await tool(
                    ["--tls-verify", "--proxy", "127.0.0.1:\(squid.peekSplicePort)", target],
                    home: home
                )
                #expect(spliced.status == 10, "\(spliced.allOutput)")
                #expect(Self.marks(spliced.standardOutput) == ["✓ proxy", "✓ tunnel", "✗ tls"], "\(spliced.allOutput)")
                #expect(
                    WordingTests.failedDetail(spliced.standardOutput, stage: "tls")
                        == "the TLS certificate of \(target) through the proxy 127.0.0.1:\(squid.peekSplicePort) did "
                        + "not verify (SSL certificate problem: self-signed certificate); the framework's pinned "
                        + "identity does not need it: drop --tls-verify, or give the CA that signed it with "
                        + "--tls-cacert (proxy http://127.0.0.1:\(squid.peekSplicePort) from --proxy)",
                    "\(spliced.standardOutput)"
                )

                // Bump and respond: squid answers the framework hello with an HTTP 400: exit 13, issuer and error.
                let blocked = try await tool(["--proxy", "127.0.0.1:\(squid.bumpRespondPort)", target], home: home)
                #expect(blocked.status == 13, "\(blocked.allOutput)")
                #expect(blocked.standardOutput.contains("✗ handshake"))
                #expect(blocked.standardOutput.contains("issued by CN=\(InspectingSquid.caName)"))
                #expect(blocked.standardOutput.contains("ERR_PROTOCOL_UNKNOWN"))
                #expect(blocked.standardOutput.contains("splice (no-bump) exception for \(target)"))

                // Stock SSL_ports: CONNECT only to 443 is refused with 5; with the port added it passes.
                let stock = try await tool(["--proxy", "127.0.0.1:\(squid.stockPort)", target], home: home)
                #expect(stock.status == 5, "\(stock.allOutput)")
                #expect(stock.standardOutput.contains("ask for port \(server.port)"))
                let plus = try await tool(["--proxy", "127.0.0.1:\(squid.stockPlusPort)", target], home: home)
                #expect(plus.status == 0, "\(plus.allOutput)")
            }
        }
    }

    /// The `✓ stage`/`✗ stage` marks of check's lines, in order.
    static func marks(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("✓ ") || line.hasPrefix("✗ ") else { return nil }
            return line.split(separator: " ").prefix(2).joined(separator: " ")
        }
    }

    @Test("direct --tls always and raw sessions share one server port, at once")
    func tlsAndRawOnOnePort() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            async let viaTLS = tool(["--json", "--tls", "always", server.address], home: home)
            async let viaRaw = tool(["--json", server.address], home: home)
            let (tls, raw) = try await (viaTLS, viaRaw)
            #expect(tls.status == 0, "\(tls.allOutput)")
            #expect(raw.status == 0, "\(raw.allOutput)")
            let tlsFacts = try jsonObject(tls)["tls"] as? [String: Any] ?? [:]
            #expect(tlsFacts["version"] as? String == "TLS 1.3")
            #expect(tlsFacts["sni"] is NSNull, "no SNI for an IP literal")
            #expect(tlsFacts["subject"] as? String == "CN=127.0.0.1")
            #expect(try jsonObject(raw)["tls"] is NSNull)
        }
    }

    @Test("a TLS failure is the tls stage, after the server or the proxy and tunnel stages passed; a timeout too")
    func tlsStage() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let verified = try await tool(["--tls", "always", "--tls-verify", server.address], home: home)
            #expect(verified.status == 10, "\(verified.allOutput)")
            #expect(Self.marks(verified.standardOutput) == ["✓ server", "✗ tls"], "\(verified.allOutput)")
            #expect(
                WordingTests.failedDetail(verified.standardOutput, stage: "tls")
                    == "the TLS certificate of \(server.address) did not verify (SSL certificate problem: self-signed "
                    + "certificate); the framework's pinned identity does not need it: drop --tls-verify, or give the "
                    + "CA that signed it with --tls-cacert",
                "\(verified.standardOutput)"
            )
            // --json names the certificate that did not verify: the server's own, self-signed.
            let json = try await tool(["--json", "--tls", "always", "--tls-verify", server.address], home: home)
            #expect(json.status == 10, "\(json.allOutput)")
            let facts = try jsonObject(json)["tls"] as? [String: Any] ?? [:]
            #expect(facts["subject"] as? String == "CN=127.0.0.1", "\(json.standardOutput)")
            #expect(facts["self_signed"] as? Bool == true)
            #expect(facts["chain_verified"] as? Bool == false)
        }
        // Listening, never accepting: the kernel completes the connect, the ClientHello is never answered.
        let (descriptor, port) = try bindLoopback(listenBacklog: 8)
        defer { close(descriptor) }
        let direct = try await tool(["--tls", "always", "--timeout", "1", "127.0.0.1:\(port)"], home: home)
        #expect(direct.status == 12, "\(direct.allOutput)")
        #expect(Self.marks(direct.standardOutput) == ["✓ server", "✗ tls"], "\(direct.allOutput)")
        #expect(
            WordingTests.failedDetail(direct.standardOutput, stage: "tls")?.wholeMatch(
                of:
                    /the TLS handshake with the server 127\.0\.0\.1:\d+ timed out after [0-9.]+ (ms|s): the TCP connection was made, no TLS answer came; if the server does not speak TLS, try --tls never/
            ) != nil,
            "\(direct.standardOutput)"
        )
        try await withStarted(ProxyProcess.start()) { proxy in
            let tunnelled = try await tool(["--timeout", "1", "-x", proxy.address, "127.0.0.1:\(port)"], home: home)
            #expect(tunnelled.status == 12, "\(tunnelled.allOutput)")
            #expect(
                Self.marks(tunnelled.standardOutput) == ["✓ proxy", "✓ tunnel", "✗ tls"],
                "\(tunnelled.allOutput)"
            )
            #expect(
                WordingTests.failedDetail(tunnelled.standardOutput, stage: "tls")?.wholeMatch(
                    of:
                        /the TLS handshake with 127\.0\.0\.1:\d+ through the proxy 127\.0\.0\.1:\d+ timed out after [0-9.]+ (ms|s): the proxy opened the tunnel \(HTTP 200\), no TLS answer came through it; if the server does not speak TLS, try --tls never \(proxy http:\/\/127\.0\.0\.1:\d+ from --proxy\)/
                ) != nil,
                "\(tunnelled.standardOutput)"
            )
            // The same proxy picked by a PAC script: the stages before TLS are shown all the same.
            let pac = try ProxyAutoConfigTests.writePac("  return \"PROXY \(proxy.address)\";", in: home)
            let picked = try await tool(["--timeout", "1", "--proxy-pac", pac, "127.0.0.1:\(port)"], home: home)
            #expect(picked.status == 12, "\(picked.allOutput)")
            #expect(Self.marks(picked.standardOutput) == ["✓ proxy", "✓ tunnel", "✗ tls"], "\(picked.allOutput)")
        }
    }

    @Test("a raw client against a TLS-only server, and a TLS client against a raw peer: clear errors, exit 9")
    func mismatchedPeers() async throws {
        let home = try TemporaryDirectory()
        let directory = try TemporaryDirectory()
        _ = try await runProcess(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-keyout", directory.file("key.pem"), "-out", directory.file("cert.pem"), "-subj", "/CN=localhost",
            ],
            timeout: .seconds(30)
        )
        let (tlsOnly, port) = try await startListeningProcess(URL(fileURLWithPath: "/usr/bin/openssl")) { port in
            [
                "s_server", "-accept", "127.0.0.1:\(port)", "-cert", directory.file("cert.pem"), "-key",
                directory.file("key.pem"), "-quiet", "-naccept", "1",
            ]
        }
        try await withStarted(tlsOnly) { _ in
            let raw = try await tool(["--timeout", "5", "127.0.0.1:\(port)"], home: home)
            #expect(raw.status == 9, "\(raw.allOutput)")
            #expect(raw.standardOutput.contains("speaks only TLS closes a raw connection"), "\(raw.allOutput)")
            #expect(raw.standardOutput.contains("try --tls always"))
        }
        try await withStarted(EchoServer.start(greeting: Array("SSH-2.0-OpenSSH_9.2\r\n".utf8))) { echo in
            let tls = try await tool(["--tls", "always", "127.0.0.1:\(echo.port)"], home: home)
            #expect(tls.status == 9, "\(tls.allOutput)")
            #expect(Self.marks(tls.standardOutput) == ["✓ server", "✗ tls"], "\(tls.allOutput)")
            #expect(tls.standardOutput.contains("the TLS handshake with 127.0.0.1:\(echo.port)"), "\(tls.allOutput)")
            #expect(
                tls.standardOutput.contains(
                    "the server does not speak TLS on that port (a tt-server older than TLS, or another service); "
                        + "try --tls never"
                ),
                "\(tls.allOutput)"
            )
        }
        // tt-server survives a broken TLS client and serves the next one.
        try await withStarted(ServerProcess.start()) { server in
            let fd = startLoopbackConnect(port: server.port)
            #expect(fd >= 0)
            try await Task.sleep(for: .milliseconds(100))
            var garbage: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]
            _ = send(fd, &garbage, garbage.count, Int32(MSG_NOSIGNAL))
            close(fd)
            let after = try await tool(["--tls", "always", server.address], home: home)
            #expect(after.status == 0, "\(after.allOutput)")
        }
    }
}
