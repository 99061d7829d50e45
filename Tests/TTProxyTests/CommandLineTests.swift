import Foundation
import Glibc
import TTTestSupport
import Testing

/// The `tt-proxy` executable: flags, the listening lines, the access log on stdout, signals, and measurements.
@Suite("The tt-proxy executable")
struct CommandLineTests {
    static let binary = BuiltProducts.executable("tt-proxy")

    /// Starts tt-proxy and reads the ports from its `tt-proxy listening on HOST:PORT` lines.
    private func start(_ arguments: [String], listeners: Int = 1) async throws -> (RunningProcess, [Int]) {
        let process = try RunningProcess(Self.binary, arguments)
        try await process.waitForOutput(containing: "tt-proxy listening on")
        let deadline = ContinuousClock.now + .seconds(10)
        var ports: [Int] = []
        while ContinuousClock.now < deadline {
            ports = process.outputSoFar.split(separator: "\n").filter { $0.hasPrefix("tt-proxy listening on ") }
                .compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
            if ports.count == listeners { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (process, ports)
    }

    @Test("it prints one listening line per listener, logs each request without the password, and exits 0 on SIGTERM")
    func listenLogAndStop() async throws {
        try await withStarted(EchoServer.start()) { echo in
            let (proxy, ports) = try await start(
                ["--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--auth-file", TestProxy.fixture("htpasswd").path],
                listeners: 2
            )
            #expect(ports.count == 2)
            #expect(proxy.outputSoFar.contains("tt-proxy listening on [::1]:"))
            let v4 = ports[0]
            let echoed = try await onThread {
                let client = try RawClient(port: v4)
                try client.send(connectRequest("127.0.0.1:\(echo.port)", user: "alice", password: "secret"))
                let (_, rest) = try client.readHead()
                return try client.exchange(Array("via the binary".utf8), prefix: rest).bytes
            }
            #expect(echoed == Array("via the binary".utf8))
            try await proxy.waitForOutput(containing: "200 tunnel up=14 down=14")
            let status = await proxy.stop(signal: SIGTERM)
            #expect(status == 0)
            #expect(!proxy.outputSoFar.contains("secret"))
            #expect(!proxy.outputSoFar.contains(Data("alice:secret".utf8).base64EncodedString()))
        }
    }

    @Test("--scenario switches the binary into the scripted proxy")
    func scenarioFlag() async throws {
        let (proxy, ports) = try await start(
            ["--listen", "127.0.0.1:0", "--scenario", TestProxy.fixture("503-service-unavailable.scenario").path]
        )
        try await withStarted(proxy) { proxy in
            let port = try #require(ports.first)
            let head = try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:9"))
                return try client.readHead().head
            }
            #expect(statusLine(head) == "HTTP/1.1 503 Service Unavailable")
        }
    }

    @Test(
        "bad flags and files exit 2 (usage) with a message that names the problem",
        arguments: [
            (["--listen", "localhost"], "--listen 'localhost' is not HOST:PORT"),
            (["--allow-ports", "443,https"], "invalid port list item 'https'"),
            (["--auth-file", "/nonexistent/htpasswd"], "auth file /nonexistent/htpasswd: cannot read the file"),
            (["--scenario", "/nonexistent/x.scenario"], "scenario /nonexistent/x.scenario: cannot read the file"),
            (["--head-timeout", "0"], "--head-timeout must be > 0"),
            (["--close-flush-timeout", "0"], "--close-flush-timeout > 0"),
            (["--relay", "sendfile"], "--relay must be copy or splice, not 'sendfile'"),
            // Seconds past Int64's nanoseconds (about 292 years) trapped when converted, instead of a usage error.
            (["--idle-timeout", "1e10"], "--idle-timeout must be at most 1000000000 seconds"),
            (["--connect-timeout", "inf"], "--connect-timeout must be at most 1000000000 seconds"),
            (["--head-timeout", "1e300"], "--head-timeout must be at most 1000000000 seconds"),
            (["--close-flush-timeout", "1e12"], "--close-flush-timeout must be at most 1000000000 seconds"),
            (["--shutdown-grace", "1e10"], "--shutdown-grace must be at most 1000000000 seconds"),
            // A scenario ignored both: a proxy started with them was open to every port and every client.
            (
                ["--scenario", TestProxy.fixture("503-service-unavailable.scenario").path, "--allow-ports", "443"],
                "--auth-file and --allow-ports do not apply to --scenario"
            ),
            (
                [
                    "--auth-file", TestProxy.fixture("htpasswd").path, "--scenario",
                    TestProxy.fixture("garbage.scenario").path,
                ],
                "--auth-file and --allow-ports do not apply to --scenario"
            ),
        ]
    )
    func badArguments(arguments: [String], message: String) async throws {
        let result = try await runProcess(Self.binary, ["--listen", "127.0.0.1:0"] + arguments, timeout: .seconds(20))
        #expect(result.status == 2)
        #expect(result.standardError.contains(message), "\(result.standardError)")
    }

    @Test("1,000 idle tunnels: RSS growth per tunnel stays small; a 256 MiB transfer has a throughput")
    func measurements() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096, limit.rlim_max >= 4096 {
            limit.rlim_cur = min(limit.rlim_max, 8192)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        try #require(limit.rlim_cur >= 2500, "RLIMIT_NOFILE too low for 1,000 tunnels: \(limit.rlim_cur)")
        try await withStarted(EchoServer.start()) { echo in
            let (proxy, ports) = try await start(["--listen", "127.0.0.1:0"])
            try await withStarted(proxy) { proxy in
                let port = try #require(ports.first)
                let pid = proxy.pid
                let tunnels = 1000
                let (before, after) = try await onThread {
                    // Warm up allocator and event loops with a few tunnels first, so the growth is per tunnel.
                    var clients: [RawClient] = []
                    for _ in 0..<20 {
                        let client = try RawClient(port: port)
                        try client.send(connectRequest("127.0.0.1:\(echo.port)"))
                        _ = try client.readHead()
                        clients.append(client)
                    }
                    usleep(300_000)
                    let before = try residentKiB(pid)
                    for _ in 0..<tunnels {
                        let client = try RawClient(port: port)
                        try client.send(connectRequest("127.0.0.1:\(echo.port)"))
                        _ = try client.readHead()
                        clients.append(client)
                    }
                    usleep(500_000)
                    let after = try residentKiB(pid)
                    withExtendedLifetime(clients) {}
                    return (before, after)
                }
                let perTunnel = Double(after - before) * 1024 / Double(tunnels)
                print(
                    "tt-proxy RSS: \(before) KiB with 20 tunnels, \(after) KiB with \(tunnels + 20); \(Int(perTunnel)) bytes per idle tunnel"
                )
                // Established tunnels leave SwiftNIO for the tunnel relay: about 1 KiB each, where two SwiftNIO channels
                // cost about 9 (a tunnel silently left on the glue would show here).
                #expect(perTunnel < 4 * 1024, "goal is 16 KiB; the tunnel relay holds about 1 KiB per idle tunnel")

                let size = 256 << 20
                let (seconds, received) = try await onThread {
                    let client = try RawClient(port: port)
                    try client.send(connectRequest("127.0.0.1:\(echo.port)"))
                    let (_, rest) = try client.readHead()
                    let start = ContinuousClock.now
                    let payload = [UInt8](repeating: 0x5A, count: size)
                    let (bytes, _) = try client.exchange(payload, prefix: rest, timeout: .seconds(120))
                    let elapsed = ContinuousClock.now - start
                    return (
                        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, bytes.count
                    )
                }
                #expect(received == size)
                print(
                    "tt-proxy echo throughput: \(size >> 20) MiB up and down in \(String(format: "%.2f", seconds)) s = \(String(format: "%.0f", Double(size >> 20) / seconds)) MiB/s each way (debug build)"
                )
            }
        }
    }
}

extension CommandLineTests {
    @Test("250 tunnels whose ends write and never read: the copy relay's buffers stay bounded (32 MiB of full ones)")
    func busyTunnelsHoldBoundedMemory() async throws {
        let (listener, targetPort) = try bindLoopback(listenBacklog: 512)
        defer { close(listener) }
        let (proxy, ports) = try await start([
            "--listen", "127.0.0.1:0", "--relay", "copy", "--access-log", "/dev/null",
        ])
        try await withStarted(proxy) { proxy in
            let port = try #require(ports.first)
            let pid = proxy.pid
            let tunnels = 250
            let (before, after, opened) = try await onThread {
                usleep(300_000)
                let before = try residentKiB(pid)
                var clients: [RawClient] = []
                var targets: [Int32] = []
                defer { for target in targets { close(target) } }
                let chunk = [UInt8](repeating: 0x5A, count: 64 << 10)
                // Bounded: each side writes at most 4 MiB, and stops once its socket stayed full for 50 ms.
                for _ in 0..<tunnels {
                    let client = try RawClient(port: port)
                    try client.send(connectRequest("127.0.0.1:\(targetPort)"))
                    _ = try client.readHead()
                    let target = accept(listener, nil, nil)
                    guard target >= 0 else { throw RawClientError(description: "accept: \(errno)") }
                    targets.append(target)
                    clients.append(client)
                    _ = client.sendUntilStalled(chunk, times: 64, stall: .milliseconds(50))
                    writeUntilStalled(target, chunk, times: 64)
                }
                usleep(500_000)
                let after = try residentKiB(pid)
                withExtendedLifetime(clients) {}
                return (before, after, clients.count)
            }
            let grownMiB = (after - before) >> 10
            print("tt-proxy RSS with \(opened) tunnels full both ways: \(before >> 10) -> \(after >> 10) MiB")
            // Unbounded, each direction holds up to a full 256 KiB buffer: 105 MiB here (measured); bounded,
            // 32 MiB of full buffers and 16 KiB for each further direction: 35 MiB (measured).
            #expect(opened == tunnels)
            #expect(grownMiB < 80, "the relay grew by \(grownMiB) MiB for \(opened) stalled tunnels")
        }
    }
}

/// Writes `chunk` up to `times` times to a socket, until it stays full for 50 ms.
private func writeUntilStalled(_ fd: Int32, _ chunk: [UInt8], times: Int) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var sent = 0
    while sent < chunk.count * times {
        let written = chunk.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if written > 0 {
            sent += written
            continue
        }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard errno == EAGAIN, poll(&descriptor, 1, 50) > 0 else { return }
    }
}

/// VmRSS of a process in KiB, from /proc.
func residentKiB(_ pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let value = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    else { throw RawClientError(description: "no VmRSS for \(pid)") }
    return value
}
