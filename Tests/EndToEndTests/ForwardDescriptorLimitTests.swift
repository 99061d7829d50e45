import Foundation
import TTTestSupport
import Testing

@Suite("tt-connect forward out of descriptors")
struct ForwardDescriptorLimitTests {
    @Test(
        "with its descriptors used up and clients waiting, forward waits instead of spinning on accept",
        // Relays take two descriptors each: one of two neighbouring limits leaves none free at all.
        arguments: [47, 48]
    )
    func noBusyLoopWhenOutOfDescriptors(limit: Int) async throws {
        try await withStarted(EchoServer.start()) { echo in
            let home = try TemporaryDirectory()
            // A small descriptor limit (soft and hard) that 40 clients, two descriptors each, exceed.
            let forward = try RunningProcess(
                URL(fileURLWithPath: "/bin/sh"),
                [
                    "-c", "ulimit -n \(limit) && exec \"$@\"", "sh", BuiltProducts.executable("tt-connect").path,
                    "forward", "--listen", "127.0.0.1:0", "127.0.0.1:\(echo.port)",
                ],
                environment: ["HOME": home.path, "NO_PROXY": "", "no_proxy": ""]
            )
            try await withStarted(forward) { forward in
                try await forward.waitForOutput(containing: "listening on 127.0.0.1:")
                let port = try #require(
                    try lineValue(forward.outputSoFar, after: "listening on 127.0.0.1:").flatMap { Int($0) }
                )
                // The kernel completes every connection into the listener's backlog; forward accepts until it has
                // no descriptor left, and the rest keep the listener readable.
                let clients = (0..<40).map { _ in startLoopbackConnect(port: port) }
                defer { for client in clients { close(client) } }
                try await Task.sleep(for: .milliseconds(500))
                let before = try Self.cpuTime(of: forward.pid)
                let started = ContinuousClock.now
                try await Task.sleep(for: .seconds(1))
                let used = try Self.cpuTime(of: forward.pid) - before
                let elapsed = ContinuousClock.now - started
                // A loop retrying accept(2) at once burns a core (seen: 0.9 s of CPU per second); waiting, almost
                // nothing.
                #expect(used < elapsed * 0.25, "forward used \(used) of CPU in \(elapsed)")
                #expect(forward.outputSoFar.components(separatedBy: "cannot accept a new client").count <= 2)
            }
        }
    }

    @Test("forward raises its soft descriptor limit to the hard one: 40 clients under a soft limit of 47 are served")
    func softLimitRaised() async throws {
        try await withStarted(EchoServer.start()) { echo in
            let home = try TemporaryDirectory()
            // The usual soft limit (1024) under a far higher hard one, scaled down: --max-connections 10000 needs
            // twice as many descriptors.
            let forward = try RunningProcess(
                URL(fileURLWithPath: "/bin/sh"),
                [
                    "-c", "ulimit -S -n 47 && exec \"$@\"", "sh", BuiltProducts.executable("tt-connect").path,
                    "forward", "--listen", "127.0.0.1:0", "127.0.0.1:\(echo.port)",
                ],
                environment: ["HOME": home.path, "NO_PROXY": "", "no_proxy": ""]
            )
            try await withStarted(forward) { forward in
                try await forward.waitForOutput(containing: "listening on 127.0.0.1:")
                let port = try #require(
                    try lineValue(forward.outputSoFar, after: "listening on 127.0.0.1:").flatMap { Int($0) }
                )
                let echoed = try await runBlocking {
                    let clients = (0..<40).map { _ in startLoopbackConnect(port: port) }
                    defer { for client in clients { close(client) } }
                    // Bounded: one deadline for all of them, not 10 s for each.
                    let deadline = ContinuousClock.now + .seconds(20)
                    return clients.filter { Self.echoes($0, before: deadline) }.count
                }
                #expect(echoed == 40, "\(forward.outputSoFar)")
            }
        }
    }

    /// Whether one byte written on the non-blocking `client` comes back before `deadline`.
    private static func echoes(_ client: Int32, before deadline: ContinuousClock.Instant) -> Bool {
        func wait(_ events: Int32) -> Bool {
            let left = max(.zero, deadline - .now).components
            let milliseconds = Int32(clamping: left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000 + 1)
            var entry = pollfd(fd: client, events: Int16(events), revents: 0)
            return poll(&entry, 1, milliseconds) == 1
        }
        var byte: UInt8 = 0x78
        guard wait(POLLOUT), write(client, &byte, 1) == 1, wait(POLLIN) else { return false }
        byte = 0
        return read(client, &byte, 1) == 1 && byte == 0x78
    }

    /// User plus system CPU time of `pid` so far (/proc/PID/stat, fields 14 and 15, in clock ticks).
    private static func cpuTime(of pid: Int32) throws -> Duration {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
        let fields = try #require(stat.split(separator: ")").last).split(separator: " ")
        let ticks = try #require(Int(fields[11])) + #require(Int(fields[12]))
        return .milliseconds(ticks * 1000 / sysconf(Int32(_SC_CLK_TCK)))
    }
}
