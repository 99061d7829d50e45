import Foundation
import TTTestSupport
import Testing

/// Corporate proxy authentication end to end: a real MIT KDC and a real squid offering Negotiate, NTLM and Basic
/// (one of each per suite), and tt-proxy's scenario of a proxy that offers every scheme but accepts only Basic.
@Suite("Proxy authentication: Kerberos and scheme fallback", .serialized)
struct ProxyAuthTests {
    static let kinitMessage =
        "the proxy wants Kerberos (Negotiate) and there is no ticket: run kinit, or give --proxy-user for another "
        + "scheme"

    @Test(
        "Kerberos squid (Negotiate, NTLM, Basic): a ticket passes with no proxy flags; none exits 4 saying kinit",
        .enabled(if: KerberosLab.testsEnabled)
    )
    func kerberos() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(KerberosLab.start()) { lab in
            try await withStarted(ServerProcess.start()) { server in
                try await withStarted(RealSquid.start(authentication: .negotiateNTLMBasic(lab))) { squid in
                    // The service principal is HTTP/localhost: the proxy is addressed by that name.
                    let proxy = "http://localhost:\(squid.port)"
                    let ticket = try await lab.kinit()
                    var withTicket = lab.environment
                    withTicket["KRB5CCNAME"] = ticket
                    var noTicket = lab.environment
                    noTicket["KRB5CCNAME"] = lab.emptyCache

                    // With a ticket and no auth flags at all: Negotiate, first try.
                    let plain = try await tool(["--proxy", proxy, server.address], home: home, environment: withTicket)
                    #expect(plain.status == 0, "\(plain.allOutput)")
                    #expect(
                        plain.standardOutput.contains("→ HTTP 200 (auth Negotiate as alice@\(KerberosLab.realm))\n"),
                        "\(plain.standardOutput)"
                    )

                    // A ticket and -U bob:… both: the line says whom the proxy authenticated, the ticket's principal.
                    let both = try await tool(
                        ["--proxy", proxy, "-U", "bob:nothing", server.address],
                        home: home,
                        environment: withTicket
                    )
                    #expect(both.status == 0, "\(both.allOutput)")
                    #expect(
                        both.standardOutput.contains("→ HTTP 200 (auth Negotiate as alice@\(KerberosLab.realm))\n"),
                        "\(both.standardOutput)"
                    )

                    // curl's idiom: an empty user means the ticket.
                    let colon = try await tool(
                        ["--proxy", proxy, "--proxy-user", ":", server.address],
                        home: home,
                        environment: withTicket
                    )
                    #expect(colon.status == 0, "\(colon.allOutput)")
                    #expect(colon.standardOutput.contains("(auth Negotiate as alice@\(KerberosLab.realm))"))

                    // No ticket and no user: exit 4, and the message says what to do.
                    let none = try await tool(
                        ["--json", "--proxy", proxy, server.address],
                        home: home,
                        environment: noTicket
                    )
                    #expect(none.status == 4, "\(none.allOutput)")
                    let message = try jsonObject(none)["message"] as? String ?? ""
                    #expect(message.contains(Self.kinitMessage), "\(message)")

                    // The proxy by another name than its principal's (HTTP/127.0.0.1 is not in the realm): said so.
                    let byAddress = try await tool(
                        ["--proxy", "http://127.0.0.1:\(squid.port)", server.address],
                        home: home,
                        environment: withTicket
                    )
                    #expect(byAddress.status == 4, "\(byAddress.allOutput)")
                    #expect(
                        byAddress.allOutput.contains("the KDC of the ticket's realm knows no service HTTP/127.0.0.1"),
                        "\(byAddress.allOutput)"
                    )

                    // An expired ticket is told apart from a missing one (GSSAPI probe of the krb5 mechanism).
                    var expired = lab.environment
                    expired["KRB5CCNAME"] = try await lab.kinit(lifetime: "2s")
                    try await Task.sleep(for: .seconds(3))
                    let late = try await tool(["--proxy", proxy, server.address], home: home, environment: expired)
                    #expect(late.status == 4, "\(late.allOutput)")
                    #expect(
                        late.allOutput.contains(
                            "the proxy wants Kerberos (Negotiate) and the Kerberos ticket has expired: run kinit again"
                        ),
                        "\(late.allOutput)"
                    )

                    // An explicit --proxy-auth negotiate without a ticket: the same message.
                    let explicit = try await tool(
                        ["--proxy", proxy, "--proxy-auth", "negotiate", server.address],
                        home: home,
                        environment: noTicket
                    )
                    #expect(explicit.status == 4)
                    #expect(explicit.allOutput.contains(Self.kinitMessage), "\(explicit.allOutput)")

                    // No ticket, a Basic-valid password: falls past Negotiate to a password scheme, exit 0.
                    let user = "\(RealProxies.testUser):\(RealProxies.testPassword)"
                    let fallback = try await tool(
                        ["--proxy", proxy, "--proxy-user", user, server.address],
                        home: home,
                        environment: noTicket
                    )
                    #expect(fallback.status == 0, "\(fallback.allOutput)")
                    #expect(
                        fallback.standardOutput.contains("Negotiate: no Kerberos ticket · "),
                        "\(fallback.allOutput)"
                    )
                    #expect(!fallback.allOutput.contains(RealProxies.testPassword))

                    // --proxy-auth basic means Basic only, ticket or not.
                    let basic = try await tool(
                        ["--proxy", proxy, "--proxy-user", user, "--proxy-auth", "basic", server.address],
                        home: home,
                        environment: withTicket
                    )
                    #expect(basic.status == 0, "\(basic.allOutput)")
                    #expect(
                        basic.standardOutput.contains("→ HTTP 200 (auth Basic as \(RealProxies.testUser))\n"),
                        "\(basic.standardOutput)"
                    )
                    #expect(
                        await squid.waitForAccessLog(containingAnyOf: [RealProxies.testUser]),
                        "squid logged no authenticated user: \(squid.accessLog)"
                    )
                }
            }
        }
    }

    /// The start of the warning when the password goes as Basic to a plain http:// proxy after Digest failed.
    static let clearBasicWarning = "warning: Digest did not pass, so the password goes as Basic, readable by anyone "

    @Test(
        "Digest and Basic offered, Digest rejected: Basic in the clear is said on the tunnel line and by -v; proxy-auth-no-basic = yes sends no Basic (exit 4); an https:// proxy needs no warning"
    )
    func basicAfterRejection() async throws {
        let home = try TemporaryDirectory()
        let user = "\(RealProxies.testUser):\(RealProxies.testPassword)"
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(RealSquid.start(authentication: .digestThenBasic)) { squid in
                let proxy = "http://127.0.0.1:\(squid.port)"
                let warned = try await tool(
                    ["-v", "--proxy", proxy, "--proxy-user", user, server.address],
                    home: home
                )
                #expect(warned.status == 0, "\(warned.allOutput)")
                #expect(
                    warned.standardOutput.contains(
                        "(auth Digest: rejected · Basic: accepted as \(RealProxies.testUser)); "
                            + Self.clearBasicWarning + "on the link to the plain http:// proxy \(proxy): use an "
                            + "https:// proxy, or choose the scheme with --proxy-auth; proxy-auth-no-basic = yes in the "
                            + "config file forbids this\n"
                    ),
                    "\(warned.standardOutput)"
                )
                // -v says it before the Basic request goes out.
                let trace = warned.standardError
                let said = try #require(trace.range(of: "* " + Self.clearBasicWarning), "\(trace)")
                let sent = try #require(trace.range(of: "> Proxy-Authorization: Basic <redacted>"), "\(trace)")
                #expect(said.lowerBound < sent.lowerBound)
                #expect(!warned.allOutput.contains(RealProxies.testPassword))
                // What squid received: Digest, then Basic.
                let received = squid.proxyAuthorizationSchemes
                #expect(received.contains("Digest") && received.last == "Basic", "\(received)")

                // An explicit --proxy-auth basic: the user chose it, nothing was rejected, no warning.
                let chosen = try await tool(
                    ["--proxy", proxy, "--proxy-user", user, "--proxy-auth", "basic", server.address],
                    home: home
                )
                #expect(chosen.status == 0, "\(chosen.allOutput)")
                #expect(chosen.standardOutput.contains("(auth Basic as \(RealProxies.testUser))\n"))
                #expect(!chosen.allOutput.contains("warning"))

                // proxy-auth-no-basic = yes: Digest is tried, Basic never leaves, exit 4 saying why.
                let config = home.file("config")
                try """
                [connection office]
                server = 127.0.0.1
                port = \(server.port)
                proxy = \(proxy)
                proxy-user = \(RealProxies.testUser)
                proxy-auth-no-basic = yes

                """.write(toFile: config, atomically: true, encoding: .utf8)
                let before = squid.proxyAuthorizationSchemes.count
                let forbidden = try await tool(
                    ["-v", "--config", config, "--connection", "office", "--proxy-user", user],
                    home: home
                )
                #expect(forbidden.status == 4, "\(forbidden.allOutput)")
                #expect(
                    forbidden.allOutput.contains(
                        "no scheme passed (Digest: rejected · Basic: not sent (proxy-auth-no-basic)), and "
                            + "proxy-auth-no-basic = yes forbids sending the password as Basic to a plain http:// proxy"
                    ),
                    "\(forbidden.allOutput)"
                )
                #expect(forbidden.standardError.contains("> Proxy-Authorization: Digest"), "\(forbidden.standardError)")
                #expect(!forbidden.standardError.contains("Proxy-Authorization: Basic"))
                let after = Array(squid.proxyAuthorizationSchemes.dropFirst(before))
                #expect(after.contains("Digest") && !after.contains("Basic"), "\(after)")
                // With --proxy-auth basic the key wins: refused before anything is sent.
                let explicitBasic = try await tool(
                    ["--config", config, "--connection", "office", "--proxy-user", user, "--proxy-auth", "basic"],
                    home: home
                )
                #expect(explicitBasic.status == 4, "\(explicitBasic.allOutput)")
                #expect(
                    explicitBasic.allOutput.contains("proxy-auth-no-basic = yes forbids sending the password as Basic")
                )
                let sinceKey = Array(squid.proxyAuthorizationSchemes.dropFirst(before))
                #expect(!sinceKey.contains("Basic"), "\(sinceKey)")

                // The same proxy behind TLS: the password is not on the link in the clear, so no warning, and
                // proxy-auth-no-basic leaves Basic allowed there.
                guard HTTPSProxyTests.enabled else { return }
                let certificate = try await HTTPSProxyTests.makeCertificate(in: home)
                let (front, port) = try await HTTPSProxyTests.startTLSFront(to: squid.port, in: home)
                try await withStarted(front) { _ in
                    let https = "https://127.0.0.1:\(port)"
                    let secure = try await tool(
                        ["--proxy", https, "--proxy-cacert", certificate, "--proxy-user", user, server.address],
                        home: home
                    )
                    #expect(secure.status == 0, "\(secure.allOutput)")
                    #expect(
                        secure.standardOutput.contains(
                            "(auth Digest: rejected · Basic: accepted as \(RealProxies.testUser))\n"
                        ),
                        "\(secure.standardOutput)"
                    )
                    try String(contentsOfFile: config, encoding: .utf8).replacing(proxy, with: https).write(
                        toFile: config,
                        atomically: true,
                        encoding: .utf8
                    )
                    let secureNoBasic = try await tool(
                        [
                            "--config", config, "--connection", "office", "--proxy-cacert", certificate,
                            "--proxy-user", user,
                        ],
                        home: home
                    )
                    #expect(secureNoBasic.status == 0, "\(secureNoBasic.allOutput)")
                    #expect(!secureNoBasic.allOutput.contains("warning"))
                }
            }
        }
    }

    /// The tt-proxy scenario offering Negotiate, NTLM, Digest and Basic, accepting only Basic alice:secret.
    static let allSchemesBasicOnly = "407-multiple-challenges.scenario"

    @Test("A proxy offering NTLM (and more) but accepting only Basic: each scheme is tried in turn, Basic passes")
    func fallbackToBasic() async throws {
        let home = try TemporaryDirectory()
        let environment = ["KRB5CCNAME": "FILE:\(home.file("no-ccache"))"]
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start(scenario: Self.allSchemesBasicOnly)) { proxy in
                let result = try await tool(
                    ["--proxy", proxy.address, "--proxy-user", "alice:secret", server.address],
                    home: home,
                    environment: environment
                )
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(
                    result.standardOutput.contains(
                        "(auth Negotiate: no Kerberos ticket · Digest: rejected · NTLM: rejected · Basic: accepted as "
                            + "alice)"
                    ),
                    "\(result.standardOutput)"
                )

                // An explicit scheme is that scheme only: NTLM is rejected and nothing else is tried.
                let ntlm = try await tool(
                    ["--proxy", proxy.address, "--proxy-user", "alice:secret", "--proxy-auth", "ntlm", server.address],
                    home: home,
                    environment: environment
                )
                #expect(ntlm.status == 4, "\(ntlm.allOutput)")
                #expect(!ntlm.allOutput.contains("Basic: accepted"))
            }
        }
    }

    @Test("Wrong passwords: exit 4 naming every scheme's verdict, never the password or its length")
    func wrongPasswords() async throws {
        let home = try TemporaryDirectory()
        let environment = ["KRB5CCNAME": "FILE:\(home.file("no-ccache"))"]
        let wrong = "Wr0ng-Passw0rd-123"
        try await withStarted(ProxyProcess.start(scenario: Self.allSchemesBasicOnly)) { proxy in
            let result = try await tool(
                ["--json", "--proxy", proxy.address, "--proxy-user", "alice:\(wrong)", "127.0.0.1:9"],
                home: home,
                environment: environment
            )
            #expect(result.status == 4, "\(result.allOutput)")
            let message = try jsonObject(result)["message"] as? String ?? ""
            #expect(
                message.contains(
                    "rejected the credentials of user \"alice\" with every scheme it offers (Negotiate: no Kerberos "
                        + "ticket · Digest: rejected · NTLM: rejected · Basic: rejected)"
                ),
                "\(message)"
            )
            // The wrong password still crossed the plain link as Basic: said too.
            #expect(
                message.contains(
                    "; warning: Negotiate, Digest, NTLM did not pass, so the password goes as Basic, readable by anyone"
                ),
                "\(message)"
            )
            #expect(!result.allOutput.contains(wrong))
            // Nor its length, in any of the forms a message would give it (elapsed times may contain the digits).
            for form in [
                "(\(wrong.count))", "\(wrong.count) bytes", "\(wrong.count) characters", "length \(wrong.count)",
            ] {
                #expect(!result.allOutput.contains(form))
            }
        }
    }
}
