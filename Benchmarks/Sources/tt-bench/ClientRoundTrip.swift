import ArgumentParser
import TTClient

/// `tt-bench client-rtt`: the median Ping round trip through the client library, blocking `FrameworkClient`
/// and `AsyncFrameworkClient`, on one session each against the same tt-server. Next to `ping-rtt` (the bare
/// protocol) it shows what the library adds: the zero-timeout liveness poll before each request (exactly-once)
/// and, for the async client, its turns and its bounded quick wait on the calling task. Besides the median round
/// trip it reports the process's CPU time (user and system, every thread) per measured ping, which the machine's
/// load moves far less.
struct ClientRoundTrip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client-rtt",
        abstract: "Ping round trips through FrameworkClient and AsyncFrameworkClient."
    )

    @Option(help: "tt-server port on 127.0.0.1.") var port: Int
    @Option(help: "Pings measured per client (after 10% warm-up).") var count = 2000
    @Option(help: "Which client: blocking, async or both (scripts/bench alternates them in short blocks).")
    var client: Which = .both
    @Option(
        help: """
            With --client both: alternate the two clients in this many pairs of --count pings each, in this one \
            process; print each pair (`client.pair` blocking and async median µs, blocking and async CPU µs per \
            ping) and the medians of the per-pair ratios (async ÷ blocking).
            """
    )
    var pairs = 0

    enum Which: String, ExpressibleByArgument {
        case blocking, async, both
    }

    func run() async throws {
        let configuration = ClientConfiguration(
            server: Endpoint(host: "127.0.0.1", port: port),
            identity: .acceptAny,
            connectTimeout: .seconds(10),
            requestTimeout: .seconds(10)
        )
        if client == .both, pairs > 0 {
            try await alternate(configuration)
            return
        }
        if client != .async {
            let blocking = FrameworkClient(configuration: configuration, trace: .disabled)
            try blocking.connect()
            var samples: [Double] = []
            var cpuStart = 0.0
            for index in 0..<(count + count / 10) {
                if index == count / 10 { cpuStart = Measure.processCPUTime() }
                let seconds = try Measure.seconds { _ = try blocking.ping() }
                if index >= count / 10 { samples.append(seconds) }
            }
            let cpu = Measure.processCPUTime() - cpuStart
            blocking.close()
            Measure.report("client.blocking.rtt.median_us", Measure.median(samples) * 1e6)
            Measure.report("client.blocking.cpu_us_per_ping", cpu / Double(count) * 1e6)
        }
        guard client != .blocking else { return }
        let async = AsyncFrameworkClient(configuration: configuration, trace: .disabled)
        try await async.connect()
        let clock = ContinuousClock()
        var samples: [Double] = []
        var cpuStart = 0.0
        for index in 0..<(count + count / 10) {
            if index == count / 10 { cpuStart = Measure.processCPUTime() }
            let start = clock.now
            _ = try await async.ping()
            if index >= count / 10 { samples.append((clock.now - start).seconds) }
        }
        let cpu = Measure.processCPUTime() - cpuStart
        await async.close()
        Measure.report("client.async.rtt.median_us", Measure.median(samples) * 1e6)
        Measure.report("client.async.cpu_us_per_ping", cpu / Double(count) * 1e6)
    }

    /// Both clients in one process, alternating blocks of `count` pings (the order flips every pair), so that
    /// the two blocks of a pair are milliseconds apart instead of a process start apart, on the same threads,
    /// and meet the same machine. The process's CPU per ping counts one client at a time: the other's threads
    /// sleep meanwhile.
    private func alternate(_ configuration: ClientConfiguration) async throws {
        let blocking = FrameworkClient(configuration: configuration, trace: .disabled)
        try blocking.connect()
        let async = AsyncFrameworkClient(configuration: configuration, trace: .disabled)
        try await async.connect()
        let clock = ContinuousClock()
        // One block: the median round trip and the CPU per ping.
        func blockingBlock() throws -> (Double, Double) {
            var samples: [Double] = []
            let cpu = Measure.processCPUTime()
            for _ in 0..<count { samples.append(try Measure.seconds { _ = try blocking.ping() }) }
            return (Measure.median(samples), (Measure.processCPUTime() - cpu) / Double(count))
        }
        func asyncBlock() async throws -> (Double, Double) {
            var samples: [Double] = []
            let cpu = Measure.processCPUTime()
            for _ in 0..<count {
                let start = clock.now
                _ = try await async.ping()
                samples.append((clock.now - start).seconds)
            }
            return (Measure.median(samples), (Measure.processCPUTime() - cpu) / Double(count))
        }
        _ = try blockingBlock()
        _ = try await asyncBlock()
        var rtt: [Double] = []
        var cpu: [Double] = []
        var cpuBlocking: [Double] = []
        var cpuAsync: [Double] = []
        for pair in 0..<pairs {
            let b: (Double, Double)
            let a: (Double, Double)
            if pair % 2 == 0 {
                b = try blockingBlock()
                a = try await asyncBlock()
            } else {
                a = try await asyncBlock()
                b = try blockingBlock()
            }
            print(
                "client.pair",
                Measure.format(b.0 * 1e6, digits: 3),
                Measure.format(a.0 * 1e6, digits: 3),
                Measure.format(b.1 * 1e6, digits: 3),
                Measure.format(a.1 * 1e6, digits: 3)
            )
            rtt.append(a.0 / b.0)
            cpu.append(a.1 / b.1)
            cpuBlocking.append(b.1)
            cpuAsync.append(a.1)
        }
        await async.close()
        blocking.close()
        Measure.report("client.pairs.rtt.async/blocking", Measure.median(rtt))
        Measure.report("client.pairs.cpu.async/blocking", Measure.median(cpu))
        Measure.report("client.pairs.blocking.cpu_us_per_ping", Measure.median(cpuBlocking) * 1e6)
        Measure.report("client.pairs.async.cpu_us_per_ping", Measure.median(cpuAsync) * 1e6)
    }
}
