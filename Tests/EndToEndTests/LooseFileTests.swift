import Foundation
import TTTestSupport
import Testing

/// Finding 11 of issue 13: tt-server loaded a 0644 identity key and a 0666 users file; tt-connect used a 0644
/// config file holding a proxy password, and known_servers in a 0777 directory.
@Suite("Files others can read or replace are refused (exit 2), as OpenSSH does", .serialized)
struct LooseFileTests {
    private func chmod(_ path: String, _ mode: Int) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    /// A users file made by `tt-server add-user` (mode 0600) and an identity key tt-server created (0600).
    private func serverFiles(_ directory: TemporaryDirectory) async throws -> (identity: String, users: String) {
        let users = directory.file("users")
        let identity = directory.file("identity.pem")
        let added = try await runProcess(
            BuiltProducts.executable("tt-server"),
            ["add-user", "fred", "--users", users, "--iterations", "1000"],
            input: Data("pw\n".utf8),
            timeout: .seconds(30)
        )
        try #require(added.status == 0, "\(added.allOutput)")
        let server = try RunningProcess(
            BuiltProducts.executable("tt-server"),
            ["--listen", "127.0.0.1:0", "--identity", identity, "--users", users]
        )
        try await withStarted(server) { server in
            try await server.waitForOutput(containing: "tt-server listening on")
        }
        return (identity, users)
    }

    private func startServer(identity: String, users: String) async throws -> ProcessResult {
        try await runProcess(
            BuiltProducts.executable("tt-server"),
            ["--listen", "127.0.0.1:0", "--identity", identity, "--users", users],
            timeout: .seconds(20)
        )
    }

    @Test("tt-server refuses an identity key of mode 0644")
    func looseIdentityKey() async throws {
        let directory = try TemporaryDirectory()
        let (identity, users) = try await serverFiles(directory)
        try chmod(identity, 0o644)
        let result = try await startServer(identity: identity, users: users)
        #expect(result.status == 2)
        #expect(result.standardError.contains("identity key \(identity) is accessible by other users (mode 0644)"))
        #expect(result.standardError.contains("chmod 600 \(identity)"))
    }

    @Test("tt-server refuses a users file of mode 0666")
    func looseUsersFile() async throws {
        let directory = try TemporaryDirectory()
        let (identity, users) = try await serverFiles(directory)
        try chmod(users, 0o666)
        let result = try await startServer(identity: identity, users: users)
        #expect(result.status == 2)
        #expect(result.standardError.contains("users file \(users) is accessible by other users (mode 0666)"))
    }

    @Test("tt-connect refuses a config file of mode 0644 that holds a proxy password, and never prints it")
    func looseConfigWithPassword() async throws {
        let home = try TemporaryDirectory()
        let path = home.file("tt.conf")
        try """
        [connection lab]
        server = 127.0.0.1
        port = 1
        proxy = http://127.0.0.1:1
        proxy-user = bob:Conf1g-Secret
        """.write(toFile: path, atomically: true, encoding: .utf8)
        try chmod(path, 0o644)
        let result = try await tool(["--config", path, "--connection", "lab"], home: home)
        #expect(result.status == 2, "\(result.allOutput)")
        #expect(result.standardError.contains("chmod 600 \(path)"))
        #expect(!result.allOutput.contains("Conf1g-Secret"))
    }

    @Test("tt-connect refuses a known_servers file in a directory anyone can write (mode 0777)")
    func worldWritableKnownServersDirectory() async throws {
        let home = try TemporaryDirectory()
        let open = home.file("open")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false)
        try chmod(open, 0o777)
        try await withStarted(ServerProcess.start()) { server in
            let result = try await tool(
                [
                    "--known-servers", open + "/known_servers", "-S",
                    "\(serverUser):\(serverPassword)@\(server.address)",
                ],
                home: home
            )
            #expect(result.status == 2, "\(result.allOutput)")
            #expect(result.allOutput.contains("chmod go-w \(open)"), "\(result.allOutput)")
        }
    }
}
