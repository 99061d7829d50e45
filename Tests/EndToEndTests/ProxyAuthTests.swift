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
