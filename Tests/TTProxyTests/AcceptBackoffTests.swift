import Foundation
import Glibc
import TTTestSupport
import Testing

/// tt-proxy at its descriptor limit: accepts pause and say so instead of spinning on `accept4` failing with
/// EMFILE, and service resumes once descriptors free up.
@Suite("tt-proxy at the descriptor limit")
struct AcceptBackoffTests {
    /// User + system CPU time of a process so far, from /proc (clock ticks → Duration).
    private static func cpuTime(pid: Int32) throws -> Duration {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        let ticks = Int(fields[11])! + Int(fields[12])!
        return .milliseconds(ticks * 1000 / sysconf(Int32(_SC_CLK_TCK)))
    }

    @Test("at EMFILE the accept loop backs off (low CPU), logs once, and serves again when descriptors free up")
    func acceptBacksOffAtEMFILE() async throws {
        try await withStarted(EchoServer.start()) { echo in
            // prlimit execs tt-proxy in place, with soft and hard limit lowered, so tt-proxy cannot raise them.
            try await withStarted(
                RunningProcess(
                    URL(fileURLWithPath: "/usr/bin/prlimit"),
                    [
                        "--nofile=48:48", "--", BuiltProducts.executable("tt-proxy").path, "--listen", "127.0.0.1:0",
                        "--head-timeout", "60",
                    ]
                )
            ) { proxy in
                try await proxy.waitForOutput(containing: "tt-proxy listening on")
                let line = try #require(
                    proxy.outputSoFar.split(separator: "\n").first { $0.hasPrefix("tt-proxy listening on") }
                )
                let port = try #require(Int(line.split(separator: ":").last ?? ""))

                // More connections than the proxy has descriptors for; the kernel completes them into the backlog.
                var clients = (0..<80).map { _ in startLoopbackConnect(port: port) }
                defer { for fd in clients { close(fd) } }
                // Not `try`: without the line the CPU measurement below still says whether accept spins.
                try? await proxy.waitForOutput(containing: "cannot accept connections", timeout: .seconds(10))
                let before = try Self.cpuTime(pid: proxy.pid)
                try await Task.sleep(for: .seconds(2))
                let used = try Self.cpuTime(pid: proxy.pid) - before
                #expect(used < .milliseconds(200), "tt-proxy used \(used) of CPU in 2 s at EMFILE")
                #expect(
                    proxy.outputSoFar.contains("cannot accept connections on 127.0.0.1:\(port): Too many open files")
                )
                let reports = proxy.outputSoFar.components(separatedBy: "cannot accept connections").count - 1
                #expect(reports <= 2, "the accept failure was reported \(reports) times in about 2 s")

                for fd in clients { close(fd) }
                clients = []
                let echoed = try await onThread {
                    // Bounded retries: the proxy frees its descriptors as it sees the clients' ends.
                    var lastError: (any Error)?
                    for _ in 0..<50 {
                        do {
                            let client = try RawClient(port: port)
                            try client.send(connectRequest("127.0.0.1:\(echo.port)"))
                            let (head, rest) = try client.readHead(timeout: .seconds(5))
                            guard statusLine(head) == "HTTP/1.1 200 Connection established" else {
                                throw RawClientError(description: head)
                            }
                            return try client.exchange(Array("back again".utf8), prefix: rest).bytes
                        } catch {
                            lastError = error
                            usleep(200_000)
                        }
                    }
                    throw lastError ?? RawClientError(description: "no tunnel")
                }
                #expect(echoed == Array("back again".utf8))
            }
        }
    }
}
