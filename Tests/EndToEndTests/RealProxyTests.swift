import Foundation
import TTTestSupport
import Testing

@Suite("tt-connect through real squid and tinyproxy", .serialized)
struct RealProxyTests {
    @Test(
        "squid with Basic auth: --proxy-user succeeds; without it exit 4 names Basic",
        .enabled(if: RealProxies.squidTestsEnabled)
    )
    func squidBasic() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(RealSquid.start(authentication: .basic)) { squid in
                let proxy = "127.0.0.1:\(squid.port)"
                let credentials = "\(RealProxies.testUser):\(RealProxies.testPassword)"
                let result = try await tool(
                    ["--proxy", proxy, "--proxy-user", credentials, server.address],
                    home: home
                )
                #expect(result.status == 0, "\(result.allOutput)")
                let lines = result.standardOutput.split(separator: "\n").map(String.init)
                #expect(
                    lines.first?.hasPrefix("✓ proxy ") == true
                        && lines.first?.hasSuffix("connected to \(proxy)") == true
                )
                #expect(
                    lines.contains {
                        $0.hasPrefix("✓ tunnel ")
                            && $0.hasSuffix("CONNECT \(server.address) → HTTP 200 (auth Basic as alice)")
                    }
                )
                #expect(lines.contains { $0.hasPrefix("✓ ping ") })
                #expect(!result.allOutput.contains(RealProxies.testPassword))

                let without = try await tool(["--json", "--proxy", proxy, server.address], home: home)
                #expect(without.status == 4)
                let json = try jsonObject(without)
                #expect(json["proxy_status"] as? Int == 407)
                let message = json["message"] as? String ?? ""
                #expect(message.contains("it offers Basic"))
                #expect(message.contains("--proxy-user USER:PASS"))
            }
        }
    }

    @Test("tinyproxy: check succeeds through its HTTP/1.0 200", .enabled(if: RealProxies.tinyproxyTestsEnabled))
    func tinyproxy() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(RealTinyproxy.start()) { tinyproxy in
                let result = try await tool(
                    [
                        "-S", "\(serverUser):\(serverPassword)", "--proxy", "http://127.0.0.1:\(tinyproxy.port)",
                        server.address,
                    ],
                    home: home
                )
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(result.standardOutput.contains("CONNECT \(server.address) → HTTP 200"))
                #expect(result.standardOutput.contains("✓ login"))
                #expect(!result.allOutput.contains(serverPassword))
            }
        }
    }
}
