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
}
