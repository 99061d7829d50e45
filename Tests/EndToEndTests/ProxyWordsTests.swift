import Foundation
import TTTestSupport
import Testing

/// The proxy's own words in the diagnosis: squid's `X-Squid-Error`, `Server`, `Via` and the error page's title
/// (issue 11, item 4). Real squid and tinyproxy where they can be made to say it; tt-proxy scenarios for the
/// rest.
@Suite("the proxy's own words", .serialized)
struct ProxyWordsTests {
    @Test(
        "real squid: an unresolvable target is exit 6 with ERR_CANNOT_FORWARD, a closed port ERR_CONNECT_FAIL, a denied one ERR_ACCESS_DENIED",
        .enabled(if: RealProxies.squidTestsEnabled)
    )
    func squid() async throws {
        let home = try TemporaryDirectory()
        try await RealSquid.with { squid in
            let proxy = "127.0.0.1:\(squid.port)"
            // squid 5.7 answers 500 for a name its resolver cannot find; the status alone would say "refused".
            let unresolvable = try await tool(["--json", "-x", proxy, "tapes.invalid:5000"], home: home)
            #expect(unresolvable.status == 6, "\(unresolvable.allOutput)")
            let json = try jsonObject(unresolvable)
            let message = json["message"] as? String ?? ""
            #expect(message.contains("could not resolve/reach tapes.invalid (squid: ERR_CANNOT_FORWARD"), "\(message)")
            #expect(message.contains("HTTP/1.1 500"))
            #expect(json["proxy_status"] as? Int == 500)

            let port = try closedPort()
            let closed = try await tool(["-x", proxy, "127.0.0.1:\(port)"], home: home)
            #expect(closed.status == 6, "\(closed.allOutput)")
            // Nothing listens there: the hint says so, not "name servers or routes" (issue 22).
            #expect(
                WordingTests.failedDetail(closed.standardOutput, stage: "tunnel")
                    == "proxy http://\(proxy) (from --proxy) could not connect to 127.0.0.1 (squid: ERR_CONNECT_FAIL "
                    + "(Connection refused); page \"ERROR: The requested URL could not be retrieved\"; "
                    + "\"HTTP/1.1 503 Service Unavailable\"): check the server name and port \(port); nothing may be "
                    + "listening on port \(port) there, or a firewall between the proxy and the server drops the "
                    + "connection",
                "\(closed.standardOutput)"
            )

            // Denied by squid's rules before any connection is made (the target is never dialled).
            let denied = try await tool(["-x", proxy, "192.0.2.1:5000"], home: home)
            #expect(denied.status == 5, "\(denied.allOutput)")
            #expect(denied.standardOutput.contains("squid: ERR_ACCESS_DENIED"))
            #expect(denied.standardOutput.contains("via 1.1 tt-connect-test (squid/"))
        }
    }

    @Test(
        "real tinyproxy: its 500 Unable to connect is the proxy not reaching the target (exit 6)",
        .enabled(if: RealProxies.tinyproxyTestsEnabled)
    )
    func tinyproxy() async throws {
        let home = try TemporaryDirectory()
        try await RealTinyproxy.with { tinyproxy in
            let result = try await tool(
                ["-x", "127.0.0.1:\(tinyproxy.port)", "127.0.0.1:\(try closedPort())"],
                home: home
            )
            #expect(result.status == 6, "\(result.allOutput)")
            #expect(result.standardOutput.contains("server tinyproxy/"))
            #expect(result.standardOutput.contains("page \"500 Unable to connect\""))
        }
    }

    /// A scenario, the exit code and what the message must quote.
    struct ScenarioCase: Sendable, CustomTestStringConvertible {
        var file: String
        var status: Int32
        var quotes: [String]
        var testDescription: String { file }
    }

    static let scenarios: [ScenarioCase] = [
        ScenarioCase(
            file: "squid-503-dns-fail.scenario",
            status: 6,
            quotes: [
                "could not resolve tapes.example.com (squid: ERR_DNS_FAIL;",
                "via 1.1 proxy.corp (squid/4.13)", "page \"ERROR: The requested URL could not be retrieved\"",
            ]
        ),
        ScenarioCase(
            file: "nginx-502.scenario",
            status: 6,
            quotes: ["server nginx/1.22.1; page \"502 Bad Gateway\"", "could not reach the server tapes.example.com"]
        ),
        ScenarioCase(file: "haproxy-503.scenario", status: 6, quotes: ["page \"503 Service Unavailable\""]),
        ScenarioCase(
            file: "403-forbidden.scenario",
            status: 5,
            quotes: ["page \"403 Forbidden\"", "refused the tunnel"]
        ),
    ]

    @Test("tt-proxy scenarios: squid 4's ERR_DNS_FAIL, nginx's and HAProxy's error pages")
    func scenarios() async throws {
        let home = try TemporaryDirectory()
        for testCase in Self.scenarios {
            try await scenario(testCase, home: home)
        }
    }

    private func scenario(_ testCase: ScenarioCase, home: TemporaryDirectory) async throws {
        try await withStarted(ProxyProcess.start(scenario: testCase.file)) { proxy in
            let result = try await tool(["-x", proxy.address, "tapes.example.com:5000"], home: home)
            #expect(result.status == testCase.status, "\(result.allOutput)")
            for quote in testCase.quotes {
                #expect(result.standardOutput.contains(quote), "'\(quote)' missing from \(result.standardOutput)")
            }
        }
    }
}
