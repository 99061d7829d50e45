import Foundation
import TTTestSupport
import Testing

@testable import TTTransport

@Suite("PAC evaluation with libpacparser")
struct ProxyAutoConfigEvaluationTests {
    static let target = Endpoint(host: "intranet.example", port: 5000)

    @Test("FindProxyForURL gets https://HOST:PORT/ and HOST; entries come back in order, SOCKS left out")
    func evaluate() throws {
        let script = """
            function FindProxyForURL(url, host) {
              if (url == "https://intranet.example:5000/" && host == "intranet.example")
                return "PROXY a.example:3128; SOCKS s.example:1080; HTTPS b.example:8443;DIRECT";
              return "PROXY wrong.example:1";
            }
            """
        let pac = try ProxyAutoConfig.evaluate(script: script, source: "test.pac", target: Self.target)
        #expect(
            pac.entries == [
                .proxy(try HTTPProxy(parsing: "http://a.example:3128")),
                .proxy(try HTTPProxy(parsing: "https://b.example:8443")),
                .direct,
            ]
        )
        #expect(pac.skipped == ["SOCKS s.example:1080"])
        #expect(pac.entries.map(\.description) == ["PROXY a.example:3128", "HTTPS b.example:8443", "DIRECT"])
    }

    @Test("a script that does not parse, or has no FindProxyForURL, is a configuration error naming the file")
    func broken() {
        for script in ["function FindProxyForURL(url, host) { return ", "var x = 1;"] {
            #expect {
                _ = try ProxyAutoConfig.evaluate(script: script, source: "broken.pac", target: Self.target)
            } throws: { error in
                let error = error as? TransportError
                return error?.category == .configuration
                    && error?.message.contains("the PAC file broken.pac cannot be evaluated") == true
            }
        }
    }

    @Test("pacparser's error is one clean line: the script's line number and the JavaScript error, no \\n escapes")
    func errorAsOneLine() {
        #expect {
            _ = try ProxyAutoConfig.evaluate(
                script: "function FindProxyForURL(url, host) {\n  return foo(;\n}\n",
                source: "broken.pac",
                target: Self.target
            )
        } throws: { error in
            (error as? TransportError)?.message
                == "the PAC file broken.pac cannot be evaluated (line 2: SyntaxError: syntax error): it must define "
                + "FindProxyForURL(url, host) in JavaScript"
        }
        // pacparser's own trailer stays when nothing more specific came; control bytes are escaped.
        #expect(
            ProxyAutoConfig.scriptError("pacparser.c: pacparser_parse_pac_string: Failed to evaluate the pac script.\n")
                == "pacparser.c: pacparser_parse_pac_string: Failed to evaluate the pac script."
        )
        #expect(
            ProxyAutoConfig.scriptError("JSERROR: PAC script:7:\n    Error: \u{1B}[2Jboom\npacparser.c: x: y.\n")
                == "line 7: Error: \\x1b[2Jboom"
        )
    }

    @Test("concurrent evaluations are serialised and each gets its own answer (pacparser is not thread-safe)")
    func concurrent() async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<8 {
                group.addTask {
                    try await onThread {
                        var ok = true
                        for round in 0..<10 {
                            let port = 1000 + index * 100 + round
                            let script = "function FindProxyForURL(u, h) { return \"PROXY p\(index):\(port)\"; }"
                            let pac = try ProxyAutoConfig.evaluate(script: script, source: "x", target: Self.target)
                            let expected = try HTTPProxy(parsing: "p\(index):\(port)")
                            ok = ok && pac.entries == [.proxy(expected)]
                        }
                        return ok
                    }
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }

    @Test("a PAC URL is fetched with libcurl; a 404 is a network failure (proxy unreachable)")
    func fetch() async throws {
        let script = "function FindProxyForURL(url, host) { return \"PROXY 127.0.0.1:3128\"; }"
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: \(script.utf8.count)\r\n\r\n\(script)".utf8)
        let server = try CannedResponder(reply: reply)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/proxy.pac"
        let pac = try await onThread {
            try ProxyAutoConfig.resolve(location: url, target: Self.target, deadline: .after(.seconds(10)))
        }
        #expect(pac.entries == [.proxy(try HTTPProxy(parsing: "127.0.0.1:3128"))])
        #expect(pac.source == url)

        let missing = try CannedResponder(reply: Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
        defer { missing.stop() }
        let missingURL = "http://127.0.0.1:\(missing.port)/proxy.pac"
        let error = try await transportFailure {
            _ = try ProxyAutoConfig.resolve(location: missingURL, target: Self.target, deadline: .after(.seconds(10)))
        }
        // A failing PAC URL is a network failure (exit 3), like an unreachable proxy: the script names them.
        #expect(error.category == .proxyUnreachable)
        #expect(error.message.contains("the server answered HTTP 404"), "\(error.message)")
    }

    @Test("precedence: --proxy > --proxy-pac > config proxy > config proxy-pac > environment")
    func precedence() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-pac-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let flagPac = directory.appendingPathComponent("flag.pac").path
        let configPac = directory.appendingPathComponent("config.pac").path
        try "function FindProxyForURL(u, h) { return \"PROXY flag-pac:1\"; }".write(
            toFile: flagPac,
            atomically: true,
            encoding: .utf8
        )
        try "function FindProxyForURL(u, h) { return \"PROXY config-pac:2\"; }".write(
            toFile: configPac,
            atomically: true,
            encoding: .utf8
        )
        var entry = ConnectionEntry(name: "x")
        entry.proxyPac = configPac
        let environment = ["HTTPS_PROXY": "env-proxy:4"]
        let target = Self.target

        func decide(_ flags: ProxyFlags, _ entry: ConnectionEntry?) throws -> String {
            let decision = try ProxyConfiguration.resolve(
                target: target,
                flags: flags,
                entry: entry,
                environment: environment
            )
            if let route = decision.autoConfig { return route.pac.entries.first?.description ?? "" }
            return decision.proxy?.url ?? "direct"
        }
        #expect(try decide(ProxyFlags(proxy: "flag-proxy:9"), entry) == "http://flag-proxy:9")
        var pacFlag = ProxyFlags()
        pacFlag.proxyPac = flagPac
        #expect(try decide(pacFlag, entry) == "PROXY flag-pac:1")
        var withProxy = entry
        withProxy.proxy = try HTTPProxy(parsing: "config-proxy:3")
        #expect(try decide(ProxyFlags(), withProxy) == "http://config-proxy:3")
        #expect(try decide(ProxyFlags(), entry) == "PROXY config-pac:2")
        #expect(try decide(ProxyFlags(), nil) == "http://env-proxy:4")
    }
}

@Suite("Proxy authentication observations")
struct ProxyAuthObservationTests {
    @Test("offered schemes come from every Proxy-Authenticate header, several challenges per header included")
    func offered() {
        var observations = ProxyAuthObservations()
        observations.recordIncoming(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"
                + "proxy-authenticate: NTLM\r\nProxy-Authenticate: Digest realm=\"a, Basic\", nonce=\"x\", "
                + "Basic realm=\"b\"\r\nProxy-Authenticate: Bearer realm=\"c\"\r\n"
        )
        #expect(observations.offered == ["Negotiate", "NTLM", "Digest", "Basic"])
        observations.recordSent(scheme: "ntlm")
        observations.recordSent(scheme: "NTLM")
        #expect(observations.sent == ["NTLM"])
    }

    @Test(
        "GSSAPI's text tells a missing ticket from an expired one and from another realm",
        arguments: [
            (
                "gss_init_sec_context() failed: No Kerberos credentials available (default cache: FILE:/x).",
                KerberosProblem.noTicket
            ),
            ("gss_init_sec_context() failed: Ticket expired.", .expired),
            ("gss_init_sec_context() failed: Server not found in Kerberos database.", .unknownService),
        ]
    )
    func kerberos(text: String, problem: KerberosProblem) {
        var observations = ProxyAuthObservations()
        observations.recordText("Something else\n")
        observations.recordText(text)
        #expect(observations.gssFailure.map(KerberosProblem.init(gssText:)) == problem)
    }
}
