import Foundation
import TTProtocol
import TTTestSupport
import Testing

extension SerializedSuites {
    /// Drives the built `tt-server` binary.
    @Suite("tt-server executable")
    struct ExecutableTests {
        private let binary = BuiltProducts.executable("tt-server")

        /// A temporary directory removed by `body`'s end.
        private func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tt-server-exe-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            return try await body(directory)
        }

        /// Starts `tt-server` and returns it with the port of its first `listening on 127.0.0.1:` line.
        private func startServer(_ arguments: [String]) async throws -> (RunningProcess, Int) {
            let process = try RunningProcess(binary, arguments)
            try await process.waitForOutput(containing: "tt-server listening on 127.0.0.1:")
            let line = try #require(
                process.outputSoFar.split(separator: "\n").first { $0.hasPrefix("tt-server listening on 127.0.0.1:") }
            )
            let port = try #require(Int(line.split(separator: ":").last ?? ""))
            return (process, port)
        }

        @Test("tt-server --listen 127.0.0.1:0 prints its port and identity, answers pings, exits 0 on SIGTERM")
        func endToEnd() async throws {
            try await withTemporaryDirectory { directory in
                let identity = directory.appendingPathComponent("id.pem").path
                let (process, port) = try await startServer([
                    "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--identity", identity,
                ])
                #expect(process.outputSoFar.contains("tt-server listening on [::1]:"))
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await client.ping().rc == .requestOK)
                let printed = try #require(
                    process.outputSoFar.split(separator: "\n").first { $0.hasPrefix("identity SHA256:") }
                )
                #expect(printed == "identity \(client.serverIdentity.fingerprint)")
                #expect(await process.stop(signal: SIGTERM) == 0)
                try await client.connection.expectClosed()

                let mode = try FileManager.default.attributesOfItem(atPath: identity)[.posixPermissions] as? Int
                #expect(mode == 0o600)
                // A restart reuses the identity.
                let (again, _) = try await startServer(["--listen", "127.0.0.1:0", "--identity", identity])
                #expect(again.outputSoFar.contains(String(printed)))
                #expect(await again.stop(signal: SIGINT) == 0)
            }
        }

        @Test("add-user reads the password from stdin, never prints it, and the server accepts it")
        func addUserThenLogin() async throws {
            try await withTemporaryDirectory { directory in
                let users = directory.appendingPathComponent("users").path
                let result = try await runProcess(
                    binary,
                    ["add-user", "alice", "--users", users, "--iterations", "2000"],
                    input: Data("correct horse\n".utf8)
                )
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(result.standardOutput.contains("added user alice"))
                #expect(!result.allOutput.contains("correct horse"))
                #expect(try !String(contentsOfFile: users, encoding: .utf8).contains("correct horse"))

                let (process, port) = try await startServer([
                    "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                    "--users", users,
                ])
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await client.login(user: "alice", password: "correct horse").rc == .requestOK)
                #expect(try await client.login(user: "alice", password: "wrong").rc == .loginRejected)
                await client.close()
                #expect(await process.stop() == 0)
                #expect(!process.outputSoFar.contains("correct horse"))
            }
        }

        @Test("add-user with an empty password changes nothing and exits 2")
        func addUserEmptyPassword() async throws {
            try await withTemporaryDirectory { directory in
                let users = directory.appendingPathComponent("users").path
                let result = try await runProcess(binary, ["add-user", "alice", "--users", users], input: Data())
                #expect(result.status == 2)
                #expect(result.standardError.contains("no password"))
                #expect(!FileManager.default.fileExists(atPath: users))
            }
        }

        @Test(
            "Bad flags exit 2 with a usage message",
            arguments: [
                ["--bogus"], ["--listen", "::1:5000"], ["--listen", "host:99999"], ["--idle-timeout", "-1"],
                ["--max-frame-size", "0"], ["--log-level", "loud"], ["add-user"], ["--frame-timeout", "0"],
                ["--max-buffered-bytes", "0"], ["--max-login-checks", "0"], ["--log-rate", "-1"],
                ["--proxy-protocol-from", "10.0.0.0/33"], ["--proxy-protocol-from", "10.0.0.0/8,bogus"],
                ["--proxy-protocol-from", "2001:db8::/129"], ["--proxy-protocol-from", "10.0.0.1"],
                ["--listen", "127.0.0.1:0", "--max-inflated-size", "4294967296"],
            ]
        )
        func badFlags(arguments: [String]) async throws {
            let result = try await runProcess(binary, arguments, timeout: .seconds(30))
            #expect(result.status == 2, "\(result.allOutput)")
            if arguments.count == 2, arguments[1] == "-1" {
                // A negative number is not "Missing value" (ArgumentParser takes -1 for a flag): issue 22.
                #expect(result.standardError == "tt-server: \(arguments[0]) must be positive, not -1\n")
            } else if arguments[0] == "--proxy-protocol-from" {
                #expect(result.standardError.contains("is not an address block"), "\(result.standardError)")
            } else {
                #expect(result.standardError.contains("Usage:") || result.standardError.contains("Error:"))
            }
        }

        @Test("An invalid users file exits 2 naming the file and line")
        func invalidUsersFile() async throws {
            try await withTemporaryDirectory { directory in
                let users = directory.appendingPathComponent("users")
                try Data("alice:plaintext-password\n".utf8).write(to: users)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: users.path)
                let result = try await runProcess(
                    binary,
                    [
                        "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                        "--users", users.path,
                    ],
                    timeout: .seconds(30)
                )
                #expect(result.status == 2)
                #expect(result.standardError.contains("\(users.path):1:"))
                #expect(!result.allOutput.contains("plaintext-password"))
            }
        }

        @Test("An unusable identity file exits 2 naming the file")
        func invalidIdentityFile() async throws {
            try await withTemporaryDirectory { directory in
                let identity = directory.appendingPathComponent("id.pem")
                try Data("not a key".utf8).write(to: identity)
                let result = try await runProcess(
                    binary,
                    ["--listen", "127.0.0.1:0", "--identity", identity.path],
                    timeout: .seconds(30)
                )
                #expect(result.status == 2)
                #expect(result.standardError.contains(identity.path))
            }
        }
    }
}
