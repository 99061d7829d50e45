import Foundation
import NIOCore
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// tt-server as an operator runs it: SIGHUP reload, add-user's advice, the admin listener, the identity's
    /// default place.
    @Suite("tt-server operations")
    struct OperationsExecutableTests {
        private let binary = BuiltProducts.executable("tt-server")

        private func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tt-server-ops-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            return try await body(directory)
        }

        /// The port of the first output line starting with `prefix` (`… on 127.0.0.1:PORT`).
        private func readPort(after prefix: String, in process: RunningProcess) async throws -> Int {
            try await process.waitForOutput(containing: prefix)
            let line = try #require(process.outputSoFar.split(separator: "\n").first { $0.hasPrefix(prefix) })
            return try #require(Int(line.split(separator: ":").last ?? ""))
        }

        private func addUser(_ name: String, password: String, users: String) async throws -> ProcessResult {
            try await runProcess(
                binary,
                ["add-user", name, "--users", users, "--iterations", "2000"],
                input: Data("\(password)\n".utf8)
            )
        }

        @Test("SIGHUP reloads the users file without dropping a session; add-user names the server that needs it")
        func reloadOnHangup() async throws {
            try await withTemporaryDirectory { directory in
                let users = directory.appendingPathComponent("users").path
                let first = try await addUser("alice", password: "alice-pw", users: users)
                #expect(first.standardOutput.contains("no running tt-server on this machine was found using"))
                #expect(first.standardOutput.contains("again on SIGHUP"))

                let process = try RunningProcess(
                    binary,
                    [
                        "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                        "--users", users, "--admin-listen", "127.0.0.1:0",
                    ]
                )
                let port = try await readPort(after: "tt-server listening on 127.0.0.1:", in: process)
                let adminPort = try await readPort(after: "tt-server admin listening on 127.0.0.1:", in: process)
                let alice = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await alice.login(user: "alice", password: "alice-pw").rc == .requestOK)

                let second = try await addUser("bob", password: "bob-pw", users: users)
                #expect(second.standardOutput.contains("tt-server (pid \(process.pid)) uses"), "\(second.allOutput)")
                #expect(second.standardOutput.contains("kill -HUP \(process.pid)"))
                let early = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await early.login(user: "bob", password: "bob-pw").rc == .loginRejected)
                await early.close()

                kill(process.pid, SIGHUP)
                try await process.waitForOutput(containing: "2 users (1 added, 0 removed, 0 with a new password)")
                let bob = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await bob.login(user: "bob", password: "bob-pw").rc == .requestOK)
                #expect(try await alice.ping().rc == .requestOK)

                // A broken file is refused and the old users stay.
                try Data("bob:not-a-hash\n".utf8).write(to: URL(fileURLWithPath: users))
                kill(process.pid, SIGHUP)
                try await process.waitForOutput(containing: "reload failed, keeping the previous one")
                let again = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await again.login(user: "alice", password: "alice-pw").rc == .requestOK)
                await again.close()

                // A file with no users left is refused (a truncated file must not lock everyone out)...
                try Data("# nobody\n".utf8).write(to: URL(fileURLWithPath: users))
                kill(process.pid, SIGHUP)
                try await process.waitForOutput(containing: "now has no users (it had 2)")
                var reloadMetrics = try await httpGet(port: adminPort, path: "/metrics").body
                #expect(metricValue(reloadMetrics, #"tt_server_reload_success{file="users"}"#) == 0)
                let stillIn = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await stillIn.login(user: "alice", password: "alice-pw").rc == .requestOK)
                await stillIn.close()
                // ...unless it says '# empty'; removing most users is then a warning.
                try Data("# empty\n".utf8).write(to: URL(fileURLWithPath: users))
                kill(process.pid, SIGHUP)
                try await process.waitForOutput(containing: "reloaded, but it removed 2 of 2 users")
                reloadMetrics = try await httpGet(port: adminPort, path: "/metrics").body
                #expect(metricValue(reloadMetrics, #"tt_server_reload_success{file="users"}"#) == 1)
                #expect((metricValue(reloadMetrics, #"tt_server_reload_timestamp_seconds{file="users"}"#) ?? 0) > 1e9)
                let lockedOut = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await lockedOut.login(user: "alice", password: "alice-pw").rc == .loginRejected)
                await lockedOut.close()

                // alice and bob are open; the closed ones leave the gauge as soon as the server notices.
                let deadline = ContinuousClock.now + .seconds(20)
                var metrics = try await httpGet(port: adminPort, path: "/metrics")
                while metricValue(metrics.body, "tt_sessions_open") != 2, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    metrics = try await httpGet(port: adminPort, path: "/metrics")
                }
                #expect(metrics.status == 200)
                #expect(metricValue(metrics.body, "tt_sessions_open") == 2)
                #expect(try await httpGet(port: adminPort, path: "/healthz").status == 200)
                #expect(process.isRunning)
                #expect(!process.outputSoFar.contains("pbkdf2-sha256$2000$"))
                #expect(!process.outputSoFar.contains("-pw"))
                #expect(await process.stop(signal: SIGTERM) == 0)
                try await alice.connection.expectClosed()
                try await bob.connection.expectClosed()
            }
        }

        @Test("SIGHUP reloads the TLS certificate and logs its end as a UTC date, as openssl reads it")
        func certificateEndDate() async throws {
            try await withTemporaryDirectory { directory in
                let process = try RunningProcess(
                    binary,
                    ["--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path]
                )
                _ = try await readPort(after: "tt-server listening on 127.0.0.1:", in: process)
                kill(process.pid, SIGHUP)
                try await process.waitForOutput(containing: " UTC")
                // The self-signed certificate made beside the identity; openssl's reading of its notAfter, in
                // the log's format.
                let certificate = directory.appendingPathComponent("id-tls-cert.pem").path
                let end = try await runProcess(
                    URL(fileURLWithPath: "/usr/bin/openssl"),
                    ["x509", "-in", certificate, "-noout", "-enddate"]
                )
                let notAfter = end.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                    .replacingOccurrences(of: "notAfter=", with: "")
                let date = try await runProcess(
                    URL(fileURLWithPath: "/usr/bin/date"),
                    ["-u", "-d", notAfter, "+%Y-%m-%d %H:%M:%S UTC"]
                )
                let expected = date.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(expected.wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/) != nil, "\(date.allOutput)")
                #expect(
                    process.outputSoFar.contains("\(certificate), valid until \(expected)"),
                    "\(process.outputSoFar)"
                )
                #expect(!process.outputSoFar.contains("seconds since 1970"))
                #expect(await process.stop(signal: SIGTERM) == 0)
            }
        }

        @Test("--drain-delay: after SIGTERM /healthz answers 503 while new sessions are still served, then it exits 0")
        func drainDelay() async throws {
            try await withTemporaryDirectory { directory in
                let process = try RunningProcess(
                    binary,
                    [
                        "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                        // A bare port is the admin port on loopback (it used to be read as a host name).
                        "--admin-listen", "0", "--drain-delay", "3",
                    ]
                )
                let port = try await readPort(after: "tt-server listening on 127.0.0.1:", in: process)
                let adminPort = try await readPort(after: "tt-server admin listening on 127.0.0.1:", in: process)
                #expect(try await httpGet(port: adminPort, path: "/healthz").status == 200)
                let signalled = ContinuousClock.now
                kill(process.pid, SIGTERM)
                try await process.waitForOutput(containing: "draining: health answers 503")
                #expect(try await httpGet(port: adminPort, path: "/healthz").status == 503)
                let late = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await late.ping().rc == .requestOK)
                try await late.connection.expectClosed()
                #expect(ContinuousClock.now - signalled >= .seconds(3))
                #expect(await process.stop(signal: SIGTERM, timeout: .seconds(20)) == 0)
            }
        }

        @Test("The admin flags (connection caps, head size, head timeout) reach the admin listener")
        func adminLimits() async throws {
            try await withTemporaryDirectory { directory in
                let process = try RunningProcess(
                    binary,
                    [
                        "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                        "--admin-listen", "127.0.0.1:0", "--admin-max-connections", "2",
                        "--admin-max-connections-per-address", "1", "--admin-max-head-size", "1024",
                        "--admin-head-timeout", "120",
                    ]
                )
                let adminPort = try await readPort(after: "tt-server admin listening on 127.0.0.1:", in: process)
                var held: [RawConnection] = []
                defer { for connection in held { connection.channel.close(promise: nil) } }
                func connect(from address: String) async throws -> RawConnection {
                    let connection = try await RawConnection.connect(host: "127.0.0.1", port: adminPort, from: address)
                    held.append(connection)
                    return connection
                }
                // One address holds one: its second is closed at once, long before the head timeout.
                let first = try await connect(from: "127.0.0.1")
                try await connect(from: "127.0.0.1").expectClosed(timeout: .seconds(30))
                // Two fill the cap: a third takes the place of the one silent longest.
                let second = try await connect(from: "127.0.0.2")
                let third = try await connect(from: "127.0.0.3")
                try await first.expectClosed(timeout: .seconds(30))
                try await second.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                #expect(String(decoding: try await second.receive(exactly: 12), as: UTF8.self) == "HTTP/1.1 200")
                try await second.expectClosed()
                // A head past 1024 bytes (the default allows 8 KiB) is answered 431.
                try await third.send(
                    Array("GET /healthz HTTP/1.1\r\nX-Long: \(String(repeating: "a", count: 2048))".utf8)
                )
                #expect(String(decoding: try await third.receive(exactly: 12), as: UTF8.self) == "HTTP/1.1 431")
                try await third.expectClosed()
                let metrics = try await httpGet(port: adminPort, path: "/metrics").body
                #expect(metricValue(metrics, #"tt_admin_connections_closed_total{reason="address_cap"}"#) == 1)
                #expect(metricValue(metrics, #"tt_admin_connections_closed_total{reason="evicted"}"#) == 1)
                #expect(await process.stop(signal: SIGTERM, timeout: .seconds(20)) == 0)
            }
            try await withTemporaryDirectory { directory in
                let process = try RunningProcess(
                    binary,
                    [
                        "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                        "--admin-listen", "127.0.0.1:0", "--admin-head-timeout", "1",
                    ]
                )
                let adminPort = try await readPort(after: "tt-server admin listening on 127.0.0.1:", in: process)
                // A silent connection is closed after 1 s, not the default 10 s.
                let started = ContinuousClock.now
                let silent = try await RawConnection.connect(host: "127.0.0.1", port: adminPort)
                try await silent.expectClosed(timeout: .seconds(9))
                #expect(ContinuousClock.now - started >= .milliseconds(990))
                #expect(await process.stop(signal: SIGTERM, timeout: .seconds(20)) == 0)
            }
        }

        @Test(
            "Under ulimit -n 256, 300 admin clients trickling a head hold at most the cap: the framework port still answers"
        )
        func adminUnderLowDescriptorLimit() async throws {
            try await withTemporaryDirectory { directory in
                // dash's ulimit without -H or -S sets both limits, so tt-server cannot raise it again.
                let process = try RunningProcess(
                    URL(fileURLWithPath: "/bin/sh"),
                    [
                        "-c", "ulimit -n 256 && exec \"$0\" \"$@\"", binary.path, "--listen", "127.0.0.1:0",
                        "--identity", directory.appendingPathComponent("id.pem").path, "--admin-listen", "127.0.0.1:0",
                        "--admin-head-timeout", "120",
                    ]
                )
                let port = try await readPort(after: "tt-server listening on 127.0.0.1:", in: process)
                let adminPort = try await readPort(after: "tt-server admin listening on 127.0.0.1:", in: process)
                let limits = try String(contentsOfFile: "/proc/\(process.pid)/limits", encoding: .utf8)
                try #require(
                    limits.split(separator: "\n").contains { $0.hasPrefix("Max open files") && $0.contains(" 256 ") },
                    "\(limits)"
                )
                var held: [RawConnection] = []
                defer { for connection in held { connection.channel.close(promise: nil) } }
                // From 38 addresses, so the per-address cap (8) leaves the global one to bound them.
                for index in 0..<300 {
                    let connection = try await RawConnection.connect(
                        host: "127.0.0.1",
                        port: adminPort,
                        from: "127.0.0.\(2 + index / 8)"
                    )
                    // The first byte of a head that never completes; a connection over the cap may be closed already.
                    try? await connection.send(Array("G".utf8))
                    held.append(connection)
                }
                // At the cap each newcomer closes the one silent longest: the server holds about 64 of them, not 300.
                let deadline = ContinuousClock.now + .seconds(20)
                var descriptors = Int.max
                repeat {
                    descriptors =
                        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count) ?? 0
                    if descriptors >= 150 { try await Task.sleep(for: .milliseconds(100)) }
                } while descriptors >= 150 && ContinuousClock.now < deadline
                #expect(descriptors < 150, "tt-server holds \(descriptors) descriptors")
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await client.ping().rc == .requestOK)
                try await client.connection.channel.close()
                #expect(await process.stop(signal: SIGTERM, timeout: .seconds(20)) == 0)
            }
        }

        @Test("A TLS key others can read is refused on SIGHUP (the old one kept, 0 on /metrics) and at start (exit 2)")
        func tlsKeyPermissions() async throws {
            try await withTemporaryDirectory { directory in
                let identity = directory.appendingPathComponent("id.pem").path
                let arguments = ["--listen", "127.0.0.1:0", "--identity", identity, "--admin-listen", "127.0.0.1:0"]
                let process = try RunningProcess(binary, arguments)
                let adminPort = try await readPort(after: "tt-server admin listening on 127.0.0.1:", in: process)
                let key = SelfSignedCertificate.paths(besideIdentity: identity).key
                #expect(chmod(key, 0o644) == 0)
                kill(process.pid, SIGHUP)
                try await process.waitForOutput(containing: "reload failed, keeping the previous one")
                #expect(process.outputSoFar.contains("chmod 600 \(key)"), "\(process.outputSoFar)")
                let metrics = try await httpGet(port: adminPort, path: "/metrics").body
                #expect(metrics.contains(#"tt_server_reload_success{file="tls_certificate"} 0"#), "\(metrics)")
                #expect(await process.stop(signal: SIGTERM, timeout: .seconds(20)) == 0)

                let again = try await runProcess(binary, arguments, timeout: .seconds(30))
                #expect(again.status == 2, "\(again.allOutput)")
                #expect(again.standardError.contains("chmod 600 \(key)"), "\(again.standardError)")
            }
        }

        @Test("The admin bounds are refused when not positive or past their ceiling (exit 2)")
        func adminLimitsRange() async throws {
            for (arguments, message) in [
                (["--admin-max-connections", "0"], "--admin-max-connections must be between 1 and 1024, not 0"),
                (["--admin-max-connections", "5000"], "--admin-max-connections must be between 1 and 1024, not 5000"),
                (
                    ["--admin-max-connections-per-address", "0"],
                    "--admin-max-connections-per-address must be between 1 and 1024, not 0"
                ),
                (
                    ["--admin-max-connections-per-address", "2000"],
                    "--admin-max-connections-per-address must be between 1 and 1024, not 2000"
                ),
                (["--admin-head-timeout", "0"], "--admin-head-timeout must be more than 0 and at most 300 seconds"),
                (["--admin-head-timeout", "301"], "--admin-head-timeout must be more than 0 and at most 300 seconds"),
                (["--admin-max-head-size", "100"], "--admin-max-head-size must be between 512 and 65536 bytes"),
                (["--admin-max-head-size", "1000000"], "--admin-max-head-size must be between 512 and 65536 bytes"),
            ] {
                let result = try await runProcess(binary, ["--admin-listen", "0"] + arguments)
                #expect(result.status == 2, "\(arguments): \(result.allOutput)")
                #expect(result.standardError.contains(message), "\(result.standardError)")
            }
        }

        @Test("--drain-delay must be between 0 and 3600 seconds")
        func drainDelayRange() async throws {
            let result = try await runProcess(binary, ["--drain-delay=-1"])
            #expect(result.status == 2)
            #expect(result.standardError.contains("--drain-delay must be between 0 and 3600 seconds, not -1.0"))
        }

        @Test("SIGHUP without a users file is logged and survived (it used to end the server with 129)")
        func hangupWithoutUsers() async throws {
            try await withTemporaryDirectory { directory in
                let process = try RunningProcess(
                    binary,
                    ["--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path]
                )
                let port = try await readPort(after: "tt-server listening on 127.0.0.1:", in: process)
                kill(process.pid, SIGHUP)
                try await process.waitForOutput(containing: "SIGHUP received")
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await client.ping().rc == .requestOK)
                await client.close()
                #expect(await process.stop(signal: SIGINT) == 0)
            }
        }

        @Test("Without --identity the key is created in $STATE_DIRECTORY (mode 0600), not the current directory")
        func identityInStateDirectory() async throws {
            try await withTemporaryDirectory { directory in
                let state = directory.appendingPathComponent("state/tt-server")
                let process = try RunningProcess(
                    binary,
                    ["--listen", "127.0.0.1:0"],
                    environment: ["STATE_DIRECTORY": state.path]
                )
                let port = try await readPort(after: "tt-server listening on 127.0.0.1:", in: process)
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                let key = state.appendingPathComponent("identity.pem").path
                let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
                #expect(mode == 0o600)
                let directoryMode = try FileManager.default.attributesOfItem(atPath: state.path)[.posixPermissions]
                #expect(directoryMode as? Int == 0o700)
                #expect(try ServerIdentity.load(path: key).fingerprint == client.serverIdentity.fingerprint)
                await client.close()
                #expect(await process.stop() == 0)
                #expect(!FileManager.default.fileExists(atPath: "tt-server-identity.pem"))
            }
        }
    }
}
