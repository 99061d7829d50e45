import ArgumentParser
import Foundation
import Synchronization

/// `tt-bench ping-load`: pings per second one tt-server answers to `--clients` concurrent sessions, one thread
/// per session, each pinging back to back for `--seconds`.
struct PingLoad: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping-load", abstract: "Concurrent Ping load.")

    @Option(help: "tt-server port on 127.0.0.1.") var port: UInt16
    @Option(help: "Concurrent sessions, one thread each.") var clients = 64
    @Option(help: "Seconds of load, after the sessions are up.") var seconds = 5.0

    func run() throws {
        let state = LoadState(clients: clients)
        var threads = ClientThreads()
        for _ in 0..<clients {
            try threads.start { [port, seconds] in state.runClient(port: port, seconds: seconds) }
        }
        guard state.finished.wait(timeout: .now() + seconds + 60) == .success else {
            throw BenchError.failed("clients did not finish within \(seconds + 60) s")
        }
        // Every client has counted itself out; wait until their threads have exited too (see ClientThreads).
        threads.join()
        if let failure = state.failure.withLock({ $0 }) { throw BenchError.failed(failure) }
        let pings = state.pings.load(ordering: .relaxed)
        let window = state.window.withLock { $0 }
        Measure.report("pings", Double(pings))
        Measure.report("pings_per_s", Double(pings) / window)
    }
}

/// Shared by the client threads: all sessions connect first, then ping for the same window of time.
final class LoadState: Sendable {
    let pings = Atomic<Int>(0)
    let failure = Mutex<String?>(nil)
    let window = Mutex<Double>(0)
    let finished = DispatchSemaphore(value: 0)
    private let connected: DispatchGroup
    private let remaining: Atomic<Int>
    private let clients: Int

    init(clients: Int) {
        self.clients = clients
        remaining = Atomic(clients)
        connected = DispatchGroup()
        for _ in 0..<clients { connected.enter() }
    }

    func runClient(port: UInt16, seconds: Double) {
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
            while clock.now < end {
                try session.ping()
                count += 1
            }
        } catch {
            failure.withLock { $0 = $0 ?? "ping: \(error)" }
        }
        pings.add(count, ordering: .relaxed)
        let elapsed = (clock.now - start).seconds
        window.withLock { $0 = max($0, elapsed) }
    }
}
