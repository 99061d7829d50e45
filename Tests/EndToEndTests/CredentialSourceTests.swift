import Foundation
import TTTestSupport
import Testing

/// Passwords off the command line: `TT_PASSWORD`, `TT_PROXY_PASSWORD`, and the config file's `password-file`
/// and `proxy-password-file` (refused when others can read them); the trace never shows a password's length.
@Suite("Credentials from the environment and files")
struct CredentialSourceTests {
    static let authFile = BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures/htpasswd").path

    @Test("TT_PROXY_PASSWORD and TT_PASSWORD fill in a user given without a password")
    func environment() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start(["--auth-file", Self.authFile])) { proxy in
                let arguments = [
                    "--proxy", proxy.address, "--proxy-user", "alice", "-S", "\(serverUser)@\(server.address)",
                ]
                let result = try await tool(
                    arguments,
                    home: home,
                    environment: ["TT_PROXY_PASSWORD": "secret", "TT_PASSWORD": serverPassword]
                )
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(result.standardOutput.contains("✓ login"))
                #expect(!result.allOutput.contains(serverPassword))

                // Without them there is no terminal to ask: a usage error that names the variable.
                let without = try await tool(arguments, home: home)
                #expect(without.status == 2, "\(without.allOutput)")
                #expect(without.standardError.contains("TT_PROXY_PASSWORD"), "\(without.standardError)")
            }
        }
    }

    @Test("password-file and proxy-password-file in the config file; refused when others can read them")
    func files() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start(["--auth-file", Self.authFile])) { proxy in
                let proxyFile = home.file("proxy-password")
                let logonFile = home.file("password")
                try "secret\n".write(toFile: proxyFile, atomically: true, encoding: .utf8)
                try "\(serverPassword)\n".write(toFile: logonFile, atomically: true, encoding: .utf8)
                chmod(proxyFile, 0o600)
                chmod(logonFile, 0o600)
                let config = home.file("config")
                try """
                [connection office]
                server = 127.0.0.1
                port = \(server.port)
                proxy = \(proxy.address)
                proxy-user = alice
                proxy-password-file = proxy-password
                password-file = \(logonFile)

                """.write(toFile: config, atomically: true, encoding: .utf8)
                chmod(config, 0o600)
                let arguments = ["--config", config, "--connection", "office", "-S", "\(serverUser)@\(server.address)"]
                let result = try await tool(arguments, home: home)
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(result.standardOutput.contains("✓ login"))

                chmod(proxyFile, 0o644)
                let readable = try await tool(arguments, home: home)
                #expect(readable.status == 2, "\(readable.allOutput)")
                #expect(readable.standardError.contains("chmod 600 \(proxyFile)"), "\(readable.standardError)")
                #expect(!readable.allOutput.contains("secret"))
                chmod(proxyFile, 0o600)
                chmod(logonFile, 0o640)
                let logonReadable = try await tool(arguments, home: home)
                #expect(logonReadable.status == 2, "\(logonReadable.allOutput)")
                #expect(logonReadable.standardError.contains("chmod 600 \(logonFile)"))
            }
        }
    }

    @Test("The API trace shows the Login request without its length (it would give the password's length away)")
    func traceHidesPasswordLength() async throws {
        let home = try TemporaryDirectory()
        let traceDirectory = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let result = try await tool(
                ["-S", "\(serverUser):\(serverPassword)@\(server.address)"],
                home: home,
                environment: ["TMSSAPILOGDIR": traceDirectory.path]
            )
            #expect(result.status == 0, "\(result.allOutput)")
            let files = try FileManager.default.contentsOfDirectory(atPath: traceDirectory.path)
            let text = try files.map { try String(contentsOfFile: traceDirectory.file($0), encoding: .utf8) }
                .joined()
            #expect(text.contains("TMSS10API_Send: Function(Login) Length(-)"), "\(text)")
            #expect(!text.contains("Function(Login) Length(\(serverUser.utf8.count + serverPassword.utf8.count + 4))"))
            #expect(text.wholeMatch(of: /(?s).*Function\(Login\) Length\(\d.*/) == nil)
            #expect(!text.contains(serverPassword))
        }
    }
}
