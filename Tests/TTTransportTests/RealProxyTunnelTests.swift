import Foundation
import TTTestSupport
import TTTransport
import Testing

/// Tunnels through real squid and tinyproxy to an echo server that speaks first.
@Suite("Tunnels through real proxies")
struct RealProxyTunnelTests {
    static let greeting = Array("TTFW-greeting-from-the-server\n".utf8)

    struct Exchange: Sendable {
        var greeting: [UInt8]
        var echoed: [UInt8]
        var report: ConnectionReport
    }

    /// Opens a tunnel, checks the greeting that arrived with the `200` was kept, and round-trips bytes.
    static func exchange(proxy: HTTPProxy, target: Endpoint) async throws -> Exchange {
        try await onThread {
            let transport = try HTTPProxyTransport.open(target: target, proxy: proxy, deadline: .after(.seconds(10)))
            defer { transport.close() }
            let greeting = try transport.receiveExactly(greeting.count, deadline: .after(.seconds(5)))
            let payload = Array((0..<1000).map { UInt8(truncatingIfNeeded: $0) })
            try transport.sendAll(payload, deadline: .after(.seconds(5)))
            let echoed = try transport.receiveExactly(payload.count, deadline: .after(.seconds(5)))
            return Exchange(greeting: greeting, echoed: echoed, report: transport.report)
        }
    }

    static let payload = Array((0..<1000).map { UInt8(truncatingIfNeeded: $0) })

    static func alice(_ password: String = RealProxies.testPassword) -> ProxyCredentials {
        ProxyCredentials(user: RealProxies.testUser, password: password)
    }

    @Test(
        "squid without authentication tunnels, keeping the bytes that came with the 200",
        .enabled(if: RealProxies.squidTestsEnabled)
    )
    func squidPlain() async throws {
        try await withStarted(EchoServer.start(greeting: Self.greeting)) { echo in
            try await RealSquid.with { squid in
                let proxy = HTTPProxy(endpoint: Endpoint(host: squid.host, port: squid.port))
                let result = try await Self.exchange(proxy: proxy, target: Endpoint(host: "127.0.0.1", port: echo.port))
                #expect(result.greeting == Self.greeting)
                #expect(result.echoed == Self.payload)
                #expect(result.report.proxyStatus == 200)
                #expect(result.report.proxy == Endpoint(host: "127.0.0.1", port: squid.port))
                #expect(result.report.connectedAddress == "127.0.0.1:\(squid.port)")
                #expect(result.report.authSchemeUsed == nil)
            }
        }
    }

    @Test("squid with Basic authentication accepts the right password", .enabled(if: RealProxies.squidTestsEnabled))
    func squidBasic() async throws {
        try await withStarted(EchoServer.start(greeting: Self.greeting)) { echo in
            try await RealSquid.with(authentication: .basic) { squid in
                let proxy = HTTPProxy(endpoint: Endpoint(host: squid.host, port: squid.port), credentials: Self.alice())
                let result = try await Self.exchange(proxy: proxy, target: Endpoint(host: "127.0.0.1", port: echo.port))
                #expect(result.greeting == Self.greeting)
                #expect(result.echoed == Self.payload)
                #expect(result.report.authSchemeUsed == "Basic")
                #expect(result.report.offeredAuthSchemes == ["Basic"])
            }
        }
    }

    @Test(
        "squid with Basic authentication rejects a wrong password with a 407 that names no secret",
        .enabled(if: RealProxies.squidTestsEnabled)
    )
    func squidBasicWrongPassword() async throws {
        try await RealSquid.with(authentication: .basic) { squid in
            let proxy = HTTPProxy(
                endpoint: Endpoint(host: squid.host, port: squid.port),
                credentials: Self.alice("Not-The-Password-42")
            )
            let error = try await transportFailure {
                _ = try HTTPProxyTransport.open(
                    target: Endpoint(host: "127.0.0.1", port: 5000),
                    proxy: proxy,
                    deadline: .after(.seconds(10))
                )
            }
            #expect(error.category == .proxyAuthenticationRequired)
            #expect(error.category == .proxyAuthenticationRequired)
            #expect(error.stage == .proxyTunnel)
            #expect(error.proxyStatus == 407)
            #expect(error.offeredAuthSchemes == ["Basic"])
            #expect(error.message.contains("rejected the credentials of user \"alice\""), "\(error)")
            #expect(error.message.contains("127.0.0.1:\(squid.port)"))
            #expect(!"\(error)".contains("Not-The-Password-42"))
            #expect(!String(reflecting: error).contains("Not-The-Password-42"))
        }
    }

    @Test(
        "squid with Basic authentication and no credentials: 407 listing the offered scheme",
        .enabled(if: RealProxies.squidTestsEnabled)
    )
    func squidBasicNoCredentials() async throws {
        try await RealSquid.with(authentication: .basic) { squid in
            let proxy = HTTPProxy(endpoint: Endpoint(host: squid.host, port: squid.port))
            let error = try await transportFailure {
                _ = try HTTPProxyTransport.open(
                    target: Endpoint(host: "127.0.0.1", port: 5000),
                    proxy: proxy,
                    deadline: .after(.seconds(10))
                )
            }
            #expect(error.category == .proxyAuthenticationRequired)
            #expect(error.proxyStatus == 407)
            #expect(error.offeredAuthSchemes == ["Basic"])
            #expect(error.message.contains("requires authentication"), "\(error)")
            #expect(error.message.contains("it offers Basic"))
            // The library names the missing value; the flag that gives it is the command line's business.
            #expect(error.message.contains("no proxy credentials were given"))
            #expect(!error.message.contains("--proxy-user"))
        }
    }

    @Test("squid with Digest authentication", .enabled(if: RealProxies.squidTestsEnabled))
    func squidDigest() async throws {
        try await withStarted(EchoServer.start(greeting: Self.greeting)) { echo in
            try await RealSquid.with(authentication: .digest) { squid in
                let proxy = HTTPProxy(endpoint: Endpoint(host: squid.host, port: squid.port), credentials: Self.alice())
                let result = try await Self.exchange(proxy: proxy, target: Endpoint(host: "127.0.0.1", port: echo.port))
                #expect(result.greeting == Self.greeting)
                #expect(result.echoed == Self.payload)
                #expect(result.report.authSchemeUsed == "Digest")
                #expect(result.report.offeredAuthSchemes == ["Digest"])

                let forcedBasic = HTTPProxy(
                    endpoint: Endpoint(host: squid.host, port: squid.port),
                    credentials: Self.alice(),
                    authScheme: .basic
                )
                let port = echo.port
                let error = try await transportFailure {
                    _ = try HTTPProxyTransport.open(
                        target: Endpoint(host: "127.0.0.1", port: port),
                        proxy: forcedBasic,
                        deadline: .after(.seconds(10))
                    )
                }
                #expect(error.category == .proxyAuthenticationRequired)
                #expect(error.message.contains("does not offer the basic authentication"), "\(error)")
            }
        }
    }

    @Test("squid with the NTLM handshake", .enabled(if: RealProxies.squidTestsEnabled))
    func squidNTLM() async throws {
        try await withStarted(EchoServer.start(greeting: Self.greeting)) { echo in
            try await RealSquid.with(authentication: .ntlm) { squid in
                let proxy = HTTPProxy(
                    endpoint: Endpoint(host: squid.host, port: squid.port),
                    credentials: ProxyCredentials(user: "EXAMPLE\\bob", password: "any-password"),
                    authScheme: .ntlm
                )
                let result = try await Self.exchange(proxy: proxy, target: Endpoint(host: "127.0.0.1", port: echo.port))
                #expect(result.greeting == Self.greeting)
                #expect(result.echoed == Self.payload)
                #expect(result.report.authSchemeUsed == "NTLM")
            }
        }
    }

    @Test("squid tunnels to an IPv6 loopback target in brackets", .enabled(if: RealProxies.squidTestsEnabled))
    func squidIPv6Target() async throws {
        try await withStarted(EchoServer.start(host: "::1", greeting: Self.greeting)) { echo in
            try await RealSquid.with { squid in
                let proxy = HTTPProxy(endpoint: Endpoint(host: squid.host, port: squid.port))
                let result = try await Self.exchange(proxy: proxy, target: Endpoint(host: "::1", port: echo.port))
                #expect(result.greeting == Self.greeting)
                #expect(result.echoed == Self.payload)
                #expect(await squid.waitForAccessLog(containingAnyOf: ["[::1]:\(echo.port)", "::1:\(echo.port)"]))
            }
        }
    }

    @Test(
        "tinyproxy's HTTP/1.0 200 works, with a server that speaks first",
        .enabled(if: RealProxies.tinyproxyTestsEnabled)
    )
    func tinyproxy() async throws {
        try await withStarted(EchoServer.start(greeting: Self.greeting)) { echo in
            try await RealTinyproxy.with { tinyproxy in
                let proxy = HTTPProxy(endpoint: Endpoint(host: tinyproxy.host, port: tinyproxy.port))
                let result = try await Self.exchange(proxy: proxy, target: Endpoint(host: "127.0.0.1", port: echo.port))
                #expect(result.greeting == Self.greeting)
                #expect(result.echoed == Self.payload)
                #expect(result.report.proxyStatus == 200)
            }
        }
    }

    @Test("tinyproxy with Basic authentication", .enabled(if: RealProxies.tinyproxyTestsEnabled))
    func tinyproxyBasic() async throws {
        try await withStarted(EchoServer.start(greeting: Self.greeting)) { echo in
            try await RealTinyproxy.with(basicAuth: (user: "carol", password: "Tiny-Secret-9")) { tinyproxy in
                let endpoint = Endpoint(host: tinyproxy.host, port: tinyproxy.port)
                let good = HTTPProxy(
                    endpoint: endpoint,
                    credentials: ProxyCredentials(user: "carol", password: "Tiny-Secret-9")
                )
                let result = try await Self.exchange(proxy: good, target: Endpoint(host: "127.0.0.1", port: echo.port))
                #expect(result.echoed == Self.payload)

                let bad = HTTPProxy(
                    endpoint: endpoint,
                    credentials: ProxyCredentials(user: "carol", password: "Wrong-Secret-1")
                )
                let port = echo.port
                let error = try await transportFailure {
                    _ = try HTTPProxyTransport.open(
                        target: Endpoint(host: "127.0.0.1", port: port),
                        proxy: bad,
                        deadline: .after(.seconds(10))
                    )
                }
                // tinyproxy 1.11 answers wrong proxy credentials with 401 (407 only when none are sent).
                #expect(error.category == .proxyAuthenticationRequired)
                #expect(error.proxyStatus == 401)
                #expect(error.message.contains("rejected the credentials of user \"carol\""), "\(error)")
                #expect(!error.message.contains("Wrong-Secret-1"))
            }
        }
    }
}
