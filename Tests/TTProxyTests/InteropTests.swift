import Foundation
import Glibc
import Synchronization
import TTProxy
import TTTestSupport
import Testing

/// Real CONNECT clients nobody here wrote (curl, socat, ncat, proxytunnel, corkscrew) driven through tt-proxy.
@Suite("Real CONNECT clients through tt-proxy")
struct InteropTests {
    enum Client: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case curl, socat, ncat, proxytunnel, corkscrew

        var testDescription: String { rawValue }

        var executable: URL? {
            for directory in ["/usr/bin", "/usr/local/bin", "/bin"] {
                let url = URL(fileURLWithPath: directory).appendingPathComponent(rawValue)
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
            return nil
        }

        /// curl's telnet mode, proxytunnel and corkscrew neither half-close at the end of their input nor wait for
        /// the peer after it: they get stdin held open and a target that closes once it has echoed everything.
        var needsOpenInput: Bool { self == .curl || self == .corkscrew || self == .proxytunnel }

        func arguments(
            proxyPort: Int,
            targetPort: Int,
            credentials: String?,
            authFile: String,
            quiet: Bool = true
        ) -> [String] {
            switch self {
            case .curl:
                ["-sS", "-p", "-x", "http://127.0.0.1:\(proxyPort)", "--max-time", "60"]
                    + (credentials.map { ["-U", $0] } ?? []) + ["telnet://127.0.0.1:\(targetPort)"]
            case .socat:
                [
                    "-t", "10", "-",
                    "PROXY:127.0.0.1:127.0.0.1:\(targetPort),proxyport=\(proxyPort)"
                        + (credentials.map { ",proxyauth=\($0)" } ?? ""),
                ]
            case .ncat:
                ["--proxy", "127.0.0.1:\(proxyPort)", "--proxy-type", "http"]
                    + (credentials.map { ["--proxy-auth", $0] } ?? []) + ["127.0.0.1", "\(targetPort)"]
            case .proxytunnel:
                // -q only when a tunnel is expected: without it proxytunnel prints the proxy's refusal.
                ["-p", "127.0.0.1:\(proxyPort)", "-d", "127.0.0.1:\(targetPort)"]
                    + (quiet ? ["-q"] : []) + (credentials.map { ["-P", $0] } ?? [])
            case .corkscrew:
                ["127.0.0.1", "\(proxyPort)", "127.0.0.1", "\(targetPort)"] + (credentials == nil ? [] : [authFile])
            }
        }
    }

    static let isCI = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false

    /// The client's binary; missing fails under CI and skips (with the reason printed) otherwise.
    private func binary(_ client: Client) throws -> URL? {
        if let url = client.executable { return url }
        if Self.isCI {
            Issue.record("\(client.rawValue) is not installed; CI must have it (apt-get install \(client.rawValue))")
        } else {
            print("skipping: \(client.rawValue) is not installed")
        }
        return nil
    }

    @Test("1 MiB goes through byte for byte, with and without Basic auth", arguments: Client.allCases, [false, true])
    func transfer(client: Client, authenticated: Bool) async throws {
        guard let executable = try binary(client) else { return }
        let payload = Array(testPayload(count: 1 << 20).map { $0 % 64 + 48 })  // curl's telnet escapes 0xFF
        try await withStarted(
            TestProxy.start { configuration in
                if authenticated {
                    configuration.users = try HtpasswdFile(contentsOf: TestProxy.fixture("htpasswd").path)
                }
            }
        ) { proxy in
            let authFile = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tt-corkscrew-\(UUID().uuidString)"
            )
            try Data("bob:b0b-pass\n".utf8).write(to: authFile)
            defer { try? FileManager.default.removeItem(at: authFile) }

            let output: [UInt8]
            if client.needsOpenInput {
                let target = try CountedEchoTarget(count: payload.count)
                let arguments = client.arguments(
                    proxyPort: proxy.port,
                    targetPort: target.port,
                    credentials: authenticated ? "bob:b0b-pass" : nil,
                    authFile: authFile.path
                )
                if client == .curl {
                    // curl's telnet mode loses data when its stdin is a pipe written by this process; the shell
                    // recipe that works by hand feeds it from cat and closes stdin a little after the echo is back.
                    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
                        "tt-curl-\(UUID().uuidString)"
                    )
                    try Data(payload).write(to: file)
                    defer { try? FileManager.default.removeItem(at: file) }
                    let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
                    let result = try await runProcess(
                        URL(fileURLWithPath: "/bin/sh"),
                        ["-c", "(cat '\(file.path)'; sleep 3) | '\(executable.path)' \(quoted)"],
                        timeout: .seconds(60)
                    )
                    #expect(result.status == 0, "curl: \(result.standardError)")
                    output = Array(result.standardOutput.utf8)
                } else {
                    let result = try await runKeepingInputOpen(executable, arguments, input: payload)
                    #expect(result.status == 0, "\(client.rawValue): \(result.errors)")
                    output = result.output
                }
            } else {
                output = try await withStarted(EchoServer.start()) { echo in
                    let arguments = client.arguments(
                        proxyPort: proxy.port,
                        targetPort: echo.port,
                        credentials: authenticated ? "bob:b0b-pass" : nil,
                        authFile: authFile.path
                    )
                    let result = try await runProcess(
                        executable,
                        arguments,
                        input: Data(payload),
                        timeout: .seconds(60)
                    )
                    #expect(result.status == 0, "\(client.rawValue): \(result.standardError)")
                    return Array(result.standardOutput.utf8)
                }
            }
            #expect(output.count == payload.count)
            #expect(checksum(output) == checksum(payload))
            let log = try await proxy.waitForAccessLog(count: 1)
            #expect(log.contains { $0.status == 200 && $0.bytesUp == payload.count })
        }
    }

    @Test("without credentials the client is refused with 407", arguments: Client.allCases)
    func refusedWithoutCredentials(client: Client) async throws {
        guard let executable = try binary(client) else { return }
        try await withStarted(
            TestProxy.start { configuration in
                configuration.users = try HtpasswdFile(contentsOf: TestProxy.fixture("htpasswd").path)
            }
        ) { proxy in
            try await withStarted(EchoServer.start()) { echo in
                let arguments = client.arguments(
                    proxyPort: proxy.port,
                    targetPort: echo.port,
                    credentials: nil,
                    authFile: "",
                    quiet: false
                )
                let result = try await runProcess(executable, arguments, input: Data("x".utf8), timeout: .seconds(30))
                #expect(result.status != 0)
                #expect(
                    result.allOutput.contains("407") || result.allOutput.contains("Proxy Authentication Required"),
                    "\(client.rawValue): \(result.allOutput)"
                )
                let log = try await proxy.waitForAccessLog(count: 1)
                #expect(log.allSatisfy { $0.status == 407 && $0.outcome == "auth-required" })
            }
        }
    }
}

/// FNV-1a over the bytes: a checksum to compare large transfers by.
func checksum(_ bytes: [UInt8]) -> UInt64 {
    bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}

/// Runs a client whose standard input stays open until all of `input` has come back on its output.
func runKeepingInputOpen(
    _ executable: URL,
    _ arguments: [String],
    input: [UInt8],
    timeout: Duration = .seconds(60)
) async throws -> (status: Int32, output: [UInt8], errors: String) {
    try await onThread {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try runWithNoSignalBlocked(process)
        let writer = Thread {
            try? stdin.fileHandleForWriting.write(contentsOf: Data(input))
        }
        writer.start()
        let errorsDone = DispatchSemaphore(value: 0)
        let errorText = Mutex(Data())
        Thread {
            let data = stderr.fileHandleForReading.readDataToEndOfFile()
            errorText.withLock { $0 = data }
            errorsDone.signal()
        }.start()
        let deadline = ContinuousClock.now + timeout
        var output = Data()
        let reader = stdout.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            output.append(chunk)
            // Everything came back: now the client may see the end of its input (curl exits only then).
            if output.count >= input.count { try? stdin.fileHandleForWriting.close() }
            if ContinuousClock.now > deadline { break }
        }
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? stdin.fileHandleForWriting.close()
        _ = errorsDone.wait(timeout: .now() + 5)
        return (process.terminationStatus, Array(output), String(decoding: errorText.withLock { $0 }, as: UTF8.self))
    }
}

/// A target that reads `count` bytes, sends them back and closes: for clients that never half-close.
final class CountedEchoTarget: Sendable {
    let port: Int
    private let listener: Int32

    init(count: Int) throws {
        let (listener, port) = try bindLoopback(listenBacklog: 4)
        self.listener = listener
        self.port = port
        Thread {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            // Store, then echo: clients that stop reading while they write (curl's telnet) cannot deadlock.
            var buffer = [UInt8](repeating: 0, count: 65536)
            var stored: [UInt8] = []
            while stored.count < count {
                let received = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                guard received > 0 else { break }
                stored += buffer.prefix(received)
            }
            var sent = 0
            while sent < stored.count {
                let written = stored[sent...].withUnsafeBytes {
                    send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                guard written > 0 else { break }
                sent += written
            }
            close(connection)
        }.start()
    }

    deinit { close(listener) }
}
