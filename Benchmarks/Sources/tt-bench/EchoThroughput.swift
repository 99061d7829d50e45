import ArgumentParser
import TTClient

/// `tt-bench echo-throughput`: sustained framework Echo through the client library (FrameworkClient), optionally
/// through a proxy and inside TLS, for the TLS-vs-raw figure of issue 8. Prints `echo_mb_s VALUE` (payload bytes
/// each way per second).
struct EchoThroughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-throughput",
        abstract: "Echo requests back to back for a while; prints echo_mb_s."
    )

    @Option(help: "The tt-server host (a name sends SNI).") var host = "127.0.0.1"
    @Option(help: "The tt-server port.") var port: Int
    @Option(help: "An HTTP proxy port on 127.0.0.1 (none: direct).") var proxyPort: Int?
    @Option(help: "TLS: auto, always or never.") var tls = "auto"
    // Below the 64 KiB a session may send before login (no login here).
    @Option(help: "Payload bytes per Echo.") var payloadSize = 48 << 10
    @Option(help: "Seconds to run (at most 600).") var seconds: Double = 5

    func run() throws {
        guard let mode = TLSMode(parsing: tls) else { throw ValidationError("--tls: auto, always or never") }
        var route = Route.direct
        if let proxyPort {
            route = .proxy(try HTTPProxy(parsing: "http://127.0.0.1:\(proxyPort)"), HTTPProxyOptions())
        }
        let client = FrameworkClient(
            configuration: ClientConfiguration(
                server: Endpoint(host: host, port: port),
                route: route,
                identity: .acceptAny,
                tls: TargetTLSOptions(mode: mode)
            )
        )
        // Mixed bytes: compressible like real records, so gzip-9 does real work on both sides.
        var state: UInt32 = 2_463_534_242
        let payload = (0..<payloadSize).map { index -> UInt8 in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return index % 4 == 0 ? UInt8(truncatingIfNeeded: state) : UInt8(index % 64)
        }
        _ = try client.send(RequestPacket(function: .echo, payload: payload))
        let started = ContinuousClock.now
        let limit = Duration.milliseconds(Int64(min(seconds, 600) * 1000))
        var bytes = 0
        var requests = 0
        while ContinuousClock.now - started < limit, requests < 1_000_000 {
            let answer = try client.send(RequestPacket(function: .echo, payload: payload))
            bytes += answer.payload.count
            requests += 1
        }
        let elapsed = ContinuousClock.now - started
        let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("echo_mb_s \(Double(bytes) / secondsTaken / 1e6)")
        print("echo_requests \(requests)")
    }
}
