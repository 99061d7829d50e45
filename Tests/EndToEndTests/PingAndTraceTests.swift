import Foundation
import TTTestSupport
import Testing

@Suite("tt-ping and the API trace")
struct PingAndTraceTests {
    @Test("tt-ping -c 3 prints three TMSS10Ping reply lines and the statistics, and exits 0")
    func pingThree() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let result = try await tool(
                ["-c", "3", "-i", "0.1", "-P", String(server.port), "127.0.0.1"],
                name: "tt-ping",
                home: home
            )
            #expect(result.status == 0, "\(result.allOutput)")
            let lines = result.standardOutput.split(separator: "\n").map(String.init)
            try #require(lines.count == 6, "\(lines)")
            for (index, line) in lines.prefix(3).enumerated() {
                #expect(
                    line.wholeMatch(of: /\d+ bytes from 127\.0\.0\.1: seq=(\d+) time=\d+\.\d\d ms/)?.output.1
                        == Substring(String(index + 1)),
                    "\(line)"
                )
            }
            #expect(lines[3] == "--- 127.0.0.1 TMSS10Ping statistics ---")
            #expect(lines[4] == "3 packets transmitted, 3 received, 0% packet loss")
            #expect(lines[5].wholeMatch(of: /round-trip min\/avg\/max = \d+\.\d\d\/\d+\.\d\d\/\d+\.\d\d ms/) != nil)
            #expect(result.standardError.isEmpty)
        }
    }

    @Test("Ctrl-C stops tt-ping early and it still prints the statistics, like ping(8)")
    func interruptPrintsStatistics() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let ping = try RunningProcess(
                BuiltProducts.executable("tt-ping"),
                ["-c", "1000", "-i", "0.1", "-P", String(server.port), "127.0.0.1"],
                environment: ["HOME": home.path]
            )
            try await ping.waitForOutput(containing: "seq=2 ")
            let status = await ping.stop(signal: SIGINT)
            #expect(status == 0, "\(ping.outputSoFar)")
            let output = ping.outputSoFar
            #expect(output.contains("--- 127.0.0.1 TMSS10Ping statistics ---"))
            let summary = try #require(output.firstMatch(of: /(\d+) packets transmitted, (\d+) received/))
            let transmitted = try #require(Int(summary.output.1))
            #expect((2..<1000).contains(transmitted))
            #expect(output.contains("round-trip min/avg/max = "))
        }
    }

    @Test("tt-ping against a closed port or an unresolvable name exits 8 (the cause's code) with one clear line")
    func pingFailures() async throws {
        let home = try TemporaryDirectory()
        let port = try closedPort()
        let refused = try await tool(["-c", "2", "-P", String(port), "127.0.0.1"], name: "tt-ping", home: home)
        #expect(refused.status == 8)
        #expect(refused.standardOutput.isEmpty)
        #expect(
            refused.standardError == "tt-ping: the server 127.0.0.1:\(port) refused the connection: nothing is "
                + "listening on port \(port) there; check the host and port\n"
        )
        let unknown = try await tool(["-c", "1", "no-such-host.invalid"], name: "tt-ping", home: home)
        #expect(unknown.status == 8)
        #expect(unknown.standardError.hasPrefix("tt-ping: cannot resolve the server name \"no-such-host.invalid\""))
    }

    @Test("tt-connect ping shares the loop and reaches the server through tt-proxy")
    func connectPingThroughProxy() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start()) { proxy in
                let result = try await tool(
                    ["ping", "-c", "2", "-i", "0.05", "--proxy", proxy.address, server.address],
                    home: home
                )
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(result.standardOutput.contains("bytes from 127.0.0.1: seq=2 time="))
                #expect(result.standardOutput.contains("2 packets transmitted, 2 received, 0% packet loss"))
            }
        }
    }

    @Test("the API trace shows Init, Connect, Send/RC and ends with Term, without any secret")
    func trace() async throws {
        let home = try TemporaryDirectory()
        let traceDirectory = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(
                ProxyProcess.start([
                    "--auth-file", BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures/htpasswd").path,
                ])
            ) { proxy in
                let environment = ["TMSSAPILOGDIR": traceDirectory.path]
                let ping = try await tool(
                    ["-c", "2", "-i", "0.05", "-P", String(server.port), "127.0.0.1"],
                    name: "tt-ping",
                    home: home,
                    environment: environment
                )
                #expect(ping.status == 0)
                let check = try await tool(
                    [
                        "--proxy", proxy.address, "--proxy-user", "alice:secret", "-S",
                        "\(serverUser):\(serverPassword)@\(server.address)",
                    ],
                    home: home,
                    environment: environment
                )
                #expect(check.status == 0, "\(check.allOutput)")

                let files = try FileManager.default.contentsOfDirectory(atPath: traceDirectory.path)
                    .filter { $0.hasPrefix("TMSSAPILOG-") }
                #expect(files.count == 2)
                var tunnelLines: [String] = []
                for file in files {
                    let text = try String(contentsOfFile: traceDirectory.file(file), encoding: .utf8)
                    tunnelLines += text.split(separator: "\n").map(String.init).filter {
                        $0.contains("Proxy CONNECT") || $0.contains("Connection OK IP(") && $0.contains("Proxy(")
                    }
                    let lines = text.split(separator: "\n").map(String.init)
                    #expect(lines.first?.contains("TMSS10API_Init (API Version=") == true)
                    #expect(
                        lines.contains { $0.hasSuffix("TMSS10API_Connect: Server(127.0.0.1) Port(\(server.port))") }
                    )
                    #expect(lines.contains { $0.contains("TMSS10API_Connect: Connection OK IP(") })
                    #expect(
                        lines.contains { $0.hasSuffix("TMSS10API_Send: Function(Ping) Length(0) Flags(0) OptArgs(0)") }
                    )
                    #expect(lines.contains { $0.contains("TMSS10API_Send: RC(Request OK)") })
                    #expect(lines.last?.hasSuffix("TMSS10API_Term") == true)
                    #expect(lines.allSatisfy { $0.wholeMatch(of: /\d\d:\d\d:\d\d: TMSS10API_.*/) != nil })
                    #expect(!text.contains(serverPassword))
                    #expect(!text.contains("secret"))
                }
                #expect(!check.allOutput.contains(serverPassword) && !check.allOutput.contains(":secret"))
                // The check's trace names the server, and apart the proxy, and whom the proxy authenticated.
                #expect(
                    tunnelLines.map { String($0.drop { $0 != "T" }) } == [
                        "TMSS10API_Connect: Proxy CONNECT status(200) (auth Basic as alice)",
                        "TMSS10API_Connect: Connection OK IP(\(server.address)) Proxy(\(proxy.address))",
                    ],
                    "\(tunnelLines)"
                )
            }
        }
    }
}
