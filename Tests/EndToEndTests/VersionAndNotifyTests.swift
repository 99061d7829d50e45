import Foundation
import TTTestSupport
import Testing

/// `--version` of every tool (issue 11: the tool's version, then the C libraries in use at run time, as `curl -V`),
/// and tt-server's readiness datagram for systemd's `Type=notify`.
@Suite struct VersionAndNotifyTests {
    /// The version `scripts/package` puts on the Debian package: the one in Sources/TTBasics/Version.swift.
    static func sourceVersion() throws -> String {
        let file = BuiltProducts.packageRoot.appendingPathComponent("Sources/TTBasics/Version.swift")
        let text = try String(contentsOf: file, encoding: .utf8)
        guard let match = text.firstMatch(of: /static let current = "([^"]+)"/) else {
            throw E2EError("no version constant in \(file.path)")
        }
        return String(match.1)
    }

    @Test(arguments: [
        ("tt-connect", ["libcurl", "OpenSSL", "zlib"]),
        ("tt-ping", ["libcurl", "OpenSSL", "zlib"]),
        ("tt-server", ["OpenSSL", "zlib"]),
        ("tt-proxy", ["OpenSSL"]),
    ])
    func versionNamesTheToolAndTheLibrariesItLinks(tool: String, libraries: [String]) async throws {
        let result = try await runProcess(BuiltProducts.executable(tool), ["--version"], timeout: .seconds(30))
        #expect(result.status == 0, "\(result.allOutput)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(tool) \(try Self.sourceVersion())")
        let named = (lines.dropFirst().first ?? "").split(separator: " ").map { word in
            word.split(separator: "/", maxSplits: 1).map(String.init)
        }
        #expect(named.map { $0[0] } == libraries, "\(result.standardOutput)")
        for entry in named {
            // A run-time version such as 7.88.1 or 3.0.17, not an empty string or "unknown".
            #expect(entry.count == 2 && entry[1].wholeMatch(of: /[0-9]+\.[0-9]+(\.[0-9]+)?[0-9A-Za-z.+~-]*/) != nil)
        }
    }

    @Test func versionOfTTProxyDoesNotClaimLibcurl() async throws {
        let result = try await runProcess(BuiltProducts.executable("tt-proxy"), ["--version"], timeout: .seconds(30))
        #expect(!result.standardOutput.contains("libcurl"))
    }

    @Test func serverSendsReadyToTheNotifySocketOnceListening() async throws {
        let notify = try NotifySocket()
        let directory = try TemporaryDirectory()
        let server = try RunningProcess(
            BuiltProducts.executable("tt-server"),
            ["--listen", "127.0.0.1:0", "--identity", directory.file("identity.pem")],
            environment: ["NOTIFY_SOCKET": notify.path]
        )
        let message = await notify.receive(timeout: .seconds(60))
        #expect(message == "READY=1")
        // Ready means accepting: the listening line is written before the datagram is sent.
        try await server.waitForOutput(containing: "tt-server listening on 127.0.0.1:", timeout: .seconds(10))
        #expect(await server.stop() == 0)
    }
}
