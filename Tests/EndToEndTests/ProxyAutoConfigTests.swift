import Foundation
import TTTestSupport
import Testing

/// `--proxy-pac` and the config file's `proxy-pac`, evaluated by the real libpacparser.
@Suite("Proxy auto-configuration (PAC)")
struct ProxyAutoConfigTests {
    static func writePac(_ body: String, in home: TemporaryDirectory, name: String = "proxy.pac") throws -> String {
        let path = home.file(name)
        try "function FindProxyForURL(url, host) {\n\(body)\n}\n".write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        return path
    }

    @Test("PAC failover: a dead first proxy is passed over, the second is used, check says which and why")
    func failover() async throws {
        let home = try TemporaryDirectory()
        let dead = try closedPort()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start()) { proxy in
                let pac = try Self.writePac(
                    "  if (host == \"127.0.0.1\") return \"PROXY 127.0.0.1:\(dead); PROXY \(proxy.address); DIRECT\";\n"
                        + "  return \"DIRECT\";",
                    in: home
                )
                let result = try await tool(["-v", "--proxy-pac", pac, server.address], home: home)
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(
                    result.standardOutput.contains("PAC entry 2 of 3 \"PROXY \(proxy.address)\" from \(pac)"),
                    "\(result.standardOutput)"
                )
                #expect(result.standardOutput.contains("PAC entry 1 of 3 \"PROXY 127.0.0.1:\(dead)\" unreachable"))
                #expect(result.standardOutput.contains("CONNECT \(server.address) → HTTP 200"))
                // -v names the script's whole answer.
                #expect(
                    result.standardError.contains("answers \"PROXY 127.0.0.1:\(dead); PROXY \(proxy.address); DIRECT\"")
                )
            }
        }
    }

    @Test("A DIRECT entry connects straight to the server")
    func direct() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let pac = try Self.writePac("  return \"DIRECT\";", in: home)
            let result = try await tool(["--proxy-pac", pac, server.address], home: home)
            #expect(result.status == 0, "\(result.allOutput)")
            #expect(result.standardOutput.contains("PAC entry 1 of 1 \"DIRECT\""), "\(result.standardOutput)")
            #expect(!result.standardOutput.contains("CONNECT"))
        }
    }

    @Test("A bad PAC file exits 2 with a clear message; a missing one too")
    func badFile() async throws {
        let home = try TemporaryDirectory()
        let broken = home.file("broken.pac")
        try "function FindProxyForURL(url, host) { return \"DIRECT\"; ".write(
            toFile: broken,
            atomically: true,
            encoding: .utf8
        )
        let result = try await tool(["--proxy-pac", broken, "127.0.0.1:9"], home: home)
        #expect(result.status == 2, "\(result.allOutput)")
        #expect(
            result.standardError
                == "tt-connect: the PAC file \(broken) cannot be evaluated (line 1: SyntaxError: missing } after "
                + "function body): it must define FindProxyForURL(url, host) in JavaScript\n",
            "\(result.standardError)"
        )

        let socks = try Self.writePac("  return \"SOCKS 127.0.0.1:1080\";", in: home, name: "socks.pac")
        let unusable = try await tool(["--proxy-pac", socks, "127.0.0.1:9"], home: home)
        #expect(unusable.status == 2)
        #expect(unusable.standardError.contains("no entry tt-connect can use"), "\(unusable.standardError)")

        let missing = try await tool(["--proxy-pac", home.file("none.pac"), "127.0.0.1:9"], home: home)
        #expect(missing.status == 2)
        #expect(missing.standardError.contains("cannot read the PAC file"), "\(missing.standardError)")
    }

    @Test("Config file: proxy-pac is used; a proxy key in the same entry wins over it")
    func configFile() async throws {
        let home = try TemporaryDirectory()
        let dead = try closedPort()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start()) { proxy in
                _ = try Self.writePac("  return \"PROXY \(proxy.address)\";", in: home)
                let config = home.file("config")
                try "[connection pac]\nserver = 127.0.0.1\nport = \(server.port)\nproxy-pac = proxy.pac\n"
                    .appending("[connection both]\nserver = 127.0.0.1\nport = \(server.port)\nproxy-pac = proxy.pac\n")
                    .appending("proxy = 127.0.0.1:\(dead)\n")
                    .write(toFile: config, atomically: true, encoding: .utf8)
                let viaPac = try await tool(["--config", config, "--connection", "pac"], home: home)
                #expect(viaPac.status == 0, "\(viaPac.allOutput)")
                #expect(viaPac.standardOutput.contains("PAC entry 1 of 1 \"PROXY \(proxy.address)\""))

                let both = try await tool(["--config", config, "--connection", "both"], home: home)
                #expect(both.status == 3, "\(both.allOutput)")
                // A --proxy flag beats the config file's proxy-pac as well.
                let flag = try await tool(
                    ["--config", config, "--connection", "pac", "--proxy", "127.0.0.1:\(dead)"],
                    home: home
                )
                #expect(flag.status == 3, "\(flag.allOutput)")
            }
        }
    }
}
