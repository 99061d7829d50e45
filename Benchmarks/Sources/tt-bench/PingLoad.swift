import ArgumentParser
import Foundation
import Synchronization

/// `tt-bench ping-load`: pings per second tt-servers answer to `--clients` concurrent sessions per server, one
/// thread per session, each pinging back to back for `--seconds` with `--depth` pings in flight. With several
/// `--port`s every server is loaded in the same window of time, so a comparison of servers sharing a CPU is not
/// moved by what else the machine does meanwhile: `pings.N` and `pings_per_s.N` are the N-th port's. Also reports
/// the load generator's own CPU seconds (every thread), so a caller can check that the servers, not the load,
/// were the bound.
struct PingLoad: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping-load", abstract: "Concurrent Ping load.")

    @Option(help: "tt-server port on 127.0.0.1 (repeat it to load several servers at once).") var port: [UInt16]
    @Option(help: "Concurrent sessions per server, one thread each.") var clients = 64
    @Option(help: "Seconds of load, after the sessions are up.") var seconds = 5.0
    @Option(help: "Pings in flight per session (the server answers them in order).") var depth = 1

    func validate() throws {
        guard !port.isEmpty, clients > 0, depth > 0, depth <= 1024 else {
            throw ValidationError("give a --port; --clients must be 1 or more and --depth 1 to 1,024")
        }
    }

    func run() throws {
        let state = LoadState(clients: clients * port.count, servers: port.count)
        let cpuStart = Measure.processCPUTime()
        var threads = ClientThreads()
        for (server, port) in port.enumerated() {
            for _ in 0..<clients {
                try threads.start { [seconds, depth] in
                    state.runClient(server: server, port: port, seconds: seconds, depth: depth)
                }
            }
        }
        guard state.finished.wait(timeout: .now() + seconds + 60) == .success else {
            throw BenchError.failed("clients did not finish within \(seconds + 60) s")
        }
        // Every client has counted itself out; wait until their threads have exited too (see ClientThreads).
        threads.join()
        if let failure = state.failure.withLock({ $0 }) { throw BenchError.failed(failure) }
        let pings = state.pings.withLock { $0 }
        let window = state.window.withLock { $0 }
        Measure.report("pings", Double(pings.reduce(0, +)))
        Measure.report("pings_per_s", Double(pings.reduce(0, +)) / window)
        for (index, count) in pings.enumerated() {
            Measure.report("pings.\(index + 1)", Double(count))
            Measure.report("pings_per_s.\(index + 1)", Double(count) / window)
        }
        Measure.report("load_cpu_s", Measure.processCPUTime() - cpuStart)
        Measure.report("window_s", window)
    }
}

/// Shared by the client threads: all sessions connect first, then ping for the same window of time.
final class LoadState: Sendable {
    /// Pings answered within the window, per server.
    let pings: Mutex<[Int]>
    let failure = Mutex<String?>(nil)
    let window = Mutex<Double>(0)
    let finished = DispatchSemaphore(value: 0)
    private let connected: DispatchGroup
    private let remaining: Atomic<Int>
    private let clients: Int

    init(clients: Int, servers: Int) {
        self.clients = clients
        pings = Mutex(Array(repeating: 0, count: servers))
        remaining = Atomic(clients)
        connected = DispatchGroup()
        for _ in 0..<clients { connected.enter() }
    }

    func runClient(server: Int, port: UInt16, seconds: Double, depth: Int) {
        defer {
            if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { finished.signal() }
        }
        let session: FrameworkSession
        do {
            session = try FrameworkSession(port: port, timeout: 30)
        } catch {
            connected.leave()
            failure.withLock { $0 = $0 ?? "connect: \(error)" }
            return
        }
        connected.leave()
        connected.wait()
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .nanoseconds(Int64(seconds * 1e9))
        var count = 0
        do {
            count = try session.pingPipelined(depth: depth, until: end)
        } catch {
            failure.withLock { $0 = $0 ?? "ping: \(error)" }
        }
        pings.withLock { $0[server] += count }
        let elapsed = (clock.now - start).seconds
        window.withLock { $0 = max($0, elapsed) }
    }
}
