import Foundation
import TTTestSupport
import Testing

/// Failures name where their route came from, as `check` does ("proxy http://… (from …)"), and point to
/// `tt-connect doctor` only for a route the user did not type: ping's lost replies, and a PAC that cannot be
/// fetched.
@Suite("Route sources in ping and PAC failures", .serialized)
struct RouteSourceTests {
    static let hint = "run `tt-connect doctor` to try every route this machine offers"

    /// A config file whose `[connection lab]` goes to `port` through `proxy`.
    static func config(in home: TemporaryDirectory, port: Int, route: String) throws -> String {
        let path = home.file("config")
        try "[connection lab]\nserver = 127.0.0.1\nport = \(port)\n\(route)\n".write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        return path
    }

    static func occurrences(of text: String, in output: String) -> Int {
        output.components(separatedBy: text).count - 1
    }

    @Test("ping's lost replies name the proxy's source; a route from the config file gets the doctor hint once")
    func pingNamesSource() async throws {
        let home = try TemporaryDirectory()
        // The server answers each ping after 3 s: every reply is lost to -W 0.5, on an open connection.
        let slow = ScriptedPeer.Connection(answerDelay: .seconds(3))
        try await withStarted(ScriptedPeer.start([slow])) { peer in
            try await withStarted(ProxyProcess.start()) { proxy in
                let config = try Self.config(in: home, port: peer.port, route: "proxy = http://\(proxy.address)")
                let source = "(proxy http://\(proxy.address) from config file \(config) [connection lab])"
                let arguments = [
                    "-c", "2", "-i", "0.2", "-W", "0.5", "--tls", "never", "--config", config, "--connection", "lab",
                ]
                let saved = try await tool(arguments, name: "tt-ping", home: home)
                #expect(saved.status == 12, "\(saved.allOutput)")
                let lost = saved.standardOutput.split(separator: "\n").filter { $0.hasPrefix("no reply from") }
                #expect(lost.count == 2, "\(saved.standardOutput)")
                for line in lost {
                    #expect(line.contains(source), "\(line)")
                    #expect(!line.contains("tt-connect doctor"), "the hint is said once, not per reply: \(line)")
                }
                // Said once, at the end, on standard error.
                #expect(saved.standardError.contains("no reply came back; \(Self.hint)"), "\(saved.standardError)")
                #expect(Self.occurrences(of: "tt-connect doctor", in: saved.allOutput) == 1, "\(saved.allOutput)")

                let json = try await tool(
                    [
                        "ping", "--json", "-c", "1", "-W", "0.5", "--tls", "never", "--config", config, "--connection",
                        "lab",
                    ],
                    home: home
                )
                #expect(json.status == 12, "\(json.allOutput)")
                let object = try jsonObject(json)
                let message = object["message"] as? String ?? ""
                #expect(message.contains(source) && message.hasSuffix(Self.hint), "\(message)")
                let losses = object["lost"] as? [[String: Any]] ?? []
                #expect((losses.first?["message"] as? String)?.contains(source) == true, "\(json.standardOutput)")

                // Typed on the command line: named too, and no hint.
                let typed = try await tool(
                    [
                        "-c", "1", "-W", "0.5", "--tls", "never", "-P", "\(peer.port)", "--proxy", proxy.address,
                        "127.0.0.1",
                    ],
                    name: "tt-ping",
                    home: home
                )
                #expect(typed.status == 12, "\(typed.allOutput)")
                #expect(
                    typed.standardOutput.contains("(proxy http://\(proxy.address) from --proxy)"),
                    "\(typed.allOutput)"
                )
                #expect(!typed.allOutput.contains("tt-connect doctor"), "\(typed.allOutput)")
            }
        }
    }

    @Test("an unreachable PAC URL is exit 3 naming its source, --proxy-pac or the config file, with the doctor hint")
    func unreachablePACNamesSourceAndHint() async throws {
        let home = try TemporaryDirectory()
        let pac = "http://127.0.0.1:\(try closedPort())/proxy.pac"
        let target = "framework.example.invalid:5000"
        let typed = try await tool(["--proxy-pac", pac, "--timeout", "5", target], home: home)
        #expect(typed.status == 3, "\(typed.allOutput)")
        #expect(typed.standardError.contains("\(pac) (from --proxy-pac)"), "\(typed.standardError)")
        // Typed or not, a PAC URL that does not answer points to the doctor, which reads the published ones.
        #expect(typed.standardError.contains(Self.hint), "\(typed.allOutput)")

        let config = try Self.config(in: home, port: 5000, route: "proxy-pac = \(pac)")
        let configured = try await tool(
            ["--config", config, "--connection", "lab", "--timeout", "5", target],
            home: home
        )
        #expect(configured.status == 3, "\(configured.allOutput)")
        #expect(configured.standardError.contains("\(pac) (from config file \(config))"), "\(configured.standardError)")
        #expect(configured.standardError.contains(Self.hint), "\(configured.standardError)")
    }
}
