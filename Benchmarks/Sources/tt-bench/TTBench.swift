import ArgumentParser

/// `tt-bench`: the benchmark tools scripts/bench drives. Each prints `NAME VALUE` lines on standard output
/// (figures) or a `READY ...` line (servers and holders), and keeps every loop bounded in count and time.
@main
struct TTBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-bench",
        abstract: "tt-connect benchmark tools (run them through scripts/bench).",
        subcommands: [
            CodecBenchmark.self,
            EchoServer.self,
            EchoRoundTrip.self,
            PingRoundTrip.self,
            ClientRoundTrip.self,
            PingLoad.self,
            Sink.self,
            IdleSessions.self,
            IdleTunnels.self,
            IdleHold.self,
            PingPercentiles.self,
            HandshakeRate.self,
            FreePort.self,
            EchoThroughput.self,
        ]
    )
}
