import Foundation
import NIOCore
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// Numbers for the report: memory per idle session and ping throughput of the built binary. The bounds are
    /// loose on purpose (the machine is shared); the printed numbers are the point.
    @Suite("Measurements")
    struct MeasurementTests {
        private let binary = BuiltProducts.executable("tt-server")

        private func startServer(_ directory: URL) async throws -> (RunningProcess, Int) {
            let process = try RunningProcess(
                binary,
                [
                    "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                    "--log-level", "warning",
                ]
            )
            try await process.waitForOutput(containing: "tt-server listening on 127.0.0.1:")
            let line = try #require(
                process.outputSoFar.split(separator: "\n").first { $0.hasPrefix("tt-server listening on 127.0.0.1:") }
            )
            return (process, try #require(Int(line.split(separator: ":").last ?? "")))
        }

        private func residentKiB(of pid: Int32) throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
            return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        }

        /// User plus system CPU time of a process so far, from /proc/PID/stat (clock ticks of 1/100 s).
        private func cpuSeconds(of pid: Int32) throws -> Double {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
            return Double((Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)) / 100
        }

        @Test("Idle sessions cost little resident memory in tt-server")
        func memoryPerIdleSession() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tt-measure-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let (process, port) = try await startServer(directory)
            // Warm up: the first sessions pay for lazily created state (thread pools, allocator arenas).
            var warm: [TestClient] = []
            for _ in 0..<20 {
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                _ = try await client.ping()
                warm.append(client)
            }
            try await Task.sleep(for: .milliseconds(300))
            let before = try residentKiB(of: process.pid)
            let count = 400
            var clients: [TestClient] = []
            for _ in 0..<count {
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                _ = try await client.ping()
                clients.append(client)
            }
            try await Task.sleep(for: .milliseconds(500))
            let after = try residentKiB(of: process.pid)
            let perSession = Double(after - before) * 1024 / Double(count)
            print(
                "MEASURE rss before=\(before) KiB after=\(after) KiB sessions=\(count) per-session=\(Int(perSession)) bytes"
            )
            #expect(perSession < 48 * 1024)
            for client in clients + warm { await client.close() }
            #expect(await process.stop() == 0)
        }

        @Test("Hostile sessions before and after login: tt-server's RSS stays within its buffer budget")
        func hostileSessionsMemory() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tt-measure-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let users = directory.appendingPathComponent("users").path
            try UserDirectory.addUser("batch", password: "batch", toFileAt: users, iterations: 1_000)
            let budget = 64 << 20
            let process = try RunningProcess(
                binary,
                [
                    "--listen", "127.0.0.1:0", "--identity", directory.appendingPathComponent("id.pem").path,
                    "--users", users, "--log-level", "warning", "--max-buffered-bytes", "\(budget)",
                ]
            )
            try await process.waitForOutput(containing: "tt-server listening on 127.0.0.1:")
            let line = try #require(
                process.outputSoFar.split(separator: "\n").first { $0.hasPrefix("tt-server listening on 127.0.0.1:") }
            )
            let port = try #require(Int(line.split(separator: ":").last ?? ""))
            let before = try residentKiB(of: process.pid)
            var peak = before
            func sample() throws { peak = max(peak, try residentKiB(of: process.pid)) }

            // (a) 60 sessions announce a 16 MiB − 1 frame and send 1 MiB of it; 60 more hold 60 KiB of one.
            var hostile: [TestClient] = []
            for index in 0..<120 {
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                let announced = index < 60 ? (16 << 20) - 1 : 60 << 10
                var prefix = ByteBuffer()
                prefix.writeInteger(UInt32(announced))
                let body = [UInt8](repeating: 1, count: min(announced - 1, 1 << 20))
                try? await client.connection.send(Array(prefix.readableBytesView) + body)
                hostile.append(client)
                try sample()
            }
            // (b) 4 logged-in sessions each pipeline 6 incompressible 4 MiB Echos and read none of the answers.
            let payload = pseudoRandomBytes(count: 4 << 20)
            for _ in 0..<4 {
                let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                #expect(try await client.login(user: "batch", password: "batch").rc == .requestOK)
                let channel = client.connection.channel
                try await channel.setOption(ChannelOptions.autoRead, value: false).get()
                for _ in 0..<6 {
                    let frame = try client.codec.encode(.request(RequestPacket(function: .echo, payload: payload)))
                    channel.writeAndFlush(channel.allocator.buffer(bytes: frame), promise: nil)
                }
                hostile.append(client)
            }
            for _ in 0..<100 {
                try sample()
                try await Task.sleep(for: .milliseconds(50))
            }
            for client in hostile { await client.close() }
            try await Task.sleep(for: .seconds(8))
            let after = try residentKiB(of: process.pid)
            print(
                "MEASURE hostile sessions: rss before=\(before / 1024) MiB peak=\(peak / 1024) MiB"
                    + " 8 s after closing=\(after / 1024) MiB (buffer budget \(budget >> 20) MiB)"
            )
            // 2 × the budget (buffers grow by doubling) plus the offloaded Echos in flight and slack.
            #expect(peak - before < 2 * (budget >> 10) + 200 << 10)
            #expect(after - before < 64 << 10)
            #expect(await process.stop() == 0)
        }

        @Test("64 concurrent clients ping tt-server")
        func pingThroughput() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tt-measure-\(UUID().uuidString)"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let (process, port) = try await startServer(directory)
            let clients = 64
            let pingsEach = 200
            let started = ContinuousClock.now
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        let client = try await TestClient.connect(host: "127.0.0.1", port: port)
                        var ok = 0
                        for _ in 0..<pingsEach where try await client.ping().rc == .requestOK { ok += 1 }
                        await client.close()
                        return ok
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let serverCPU = try cpuSeconds(of: process.pid)
            print(
                "MEASURE pings=\(total) clients=\(clients) seconds=\(seconds) pings/s=\(Int(Double(total) / seconds))"
                    + " server-cpu-seconds=\(serverCPU) (including start-up)"
            )
            #expect(total == clients * pingsEach)
            #expect(await process.stop() == 0)
        }
    }
}
