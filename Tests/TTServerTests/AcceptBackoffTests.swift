import Foundation
import TTProtocol
import TTTestSupport
import Testing

/// Issue 13, finding 6: at the descriptor limit the listener backs off and says so, instead of spinning on a
/// failing `accept4`, and it serves again once descriptors are free. Part of the executable suite, which runs
/// after the parallel suites: spawning a child while dozens of tests start can stall the test process.
extension SerializedSuites.ExecutableTests {
    private var serverBinary: URL { BuiltProducts.executable("tt-server") }

    /// User plus system CPU time of a process so far, from /proc/PID/stat (clock ticks of 1/100 s).
    private func cpuSecondsUsed(by pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
        return Double((Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)) / 100
    }

    @Test("At EMFILE tt-server stays cool, logs the reason, and accepts again once descriptors are free")
    func emfile() async throws {
        let prlimit = URL(fileURLWithPath: "/usr/bin/prlimit")
        try #require(FileManager.default.isExecutableFile(atPath: prlimit.path))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-emfile-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // prlimit execs the server: same pid, soft and hard limit 64, so raising the soft limit cannot help.
        let process = try RunningProcess(
            prlimit,
            [
                "--nofile=64:64", serverBinary.path, "--listen", "127.0.0.1:0",
                "--identity", directory.appendingPathComponent("id.pem").path,
                "--handshake-timeout", "120", "--idle-timeout", "120",
            ]
        )
        try await process.waitForOutput(containing: "tt-server listening on 127.0.0.1:")
        let line = try #require(
            process.outputSoFar.split(separator: "\n").first { $0.hasPrefix("tt-server listening on 127.0.0.1:") }
        )
        let port = try #require(Int(line.split(separator: ":").last ?? ""))

        // More connections than the server has descriptors: the kernel completes them all, the server cannot
        // accept the rest.
        var held: [RawConnection] = []
        for _ in 0..<90 {
            held.append(try await RawConnection.connect(host: "127.0.0.1", port: port))
        }
        try await process.waitForOutput(containing: "accept failed", timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(500))
        let before = try cpuSecondsUsed(by: process.pid)
        try await Task.sleep(for: .seconds(3))
        let used = try cpuSecondsUsed(by: process.pid) - before
        // A spinning accept loop burns close to 3 s here.
        #expect(used < 1.2, "tt-server used \(used) CPU-s in 3 s while out of descriptors")
        #expect(process.outputSoFar.contains("file descriptor limit"))
        let lines = process.outputSoFar.split(separator: "\n").filter { $0.contains("accept failed") }
        #expect(lines.count <= 10, "\(lines.count) accept-failure lines in ~4 s")

        for connection in held { await connection.close() }
        held.removeAll()
        var answered = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !answered, ContinuousClock.now < deadline {
            if let client = try? await TestClient.connect(host: "127.0.0.1", port: port) {
                answered = (try? await client.ping().rc) == .requestOK
                await client.close()
            }
            if !answered { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(answered)
        #expect(await process.stop() == 0)
    }
}
