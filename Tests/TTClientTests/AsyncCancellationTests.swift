import Foundation
import TTClient
import TTTestSupport
import TTTransport
import Testing

/// Cancelling an `AsyncFrameworkClient` while it is still opening the connection (issue 18): the call returns
/// within 100 ms of the cancel with `CancellationError`, its sockets are closed, and the client stays usable.
///
/// The 100 ms are the code's own: what the threads on the way (the client's `tt-connect` thread, the task's
/// thread) spent waiting for a CPU is the loaded machine's and is not counted (``CancelTiming/ownLatency``). On
/// the wall clock the return must still come far before the 30 s connect timeout.
@Suite("AsyncFrameworkClient: cancelling a connect returns within 100 ms of its own", .serialized)
struct AsyncCancellationTests {
    @Test("a proxy that accepts and never answers the CONNECT: cancelled after 300 ms, back within 100 ms")
    func silentProxy() async throws {
        // Listening, never accepting: the kernel completes the TCP connect, the CONNECT goes out, nothing answers.
        let (listener, port) = try bindLoopback(listenBacklog: 8)
        defer { close(listener) }
        let proxy = try HTTPProxy(parsing: "http://127.0.0.1:\(port)")
        try await expectPromptCancellation(
            route: .proxy(proxy, HTTPProxyOptions()),
            server: Endpoint(host: "127.0.0.1", port: 5000),
            port: port,
            what: "proxy"
        )
    }

    @Test("a direct connect that gets no SYN-ACK (a full accept queue): cancelled after 300 ms, back within 100 ms")
    func blackholedConnect() async throws {
        let blackhole = try FullBacklogListener()
        try await expectPromptCancellation(
            route: .direct,
            server: Endpoint(host: "127.0.0.1", port: blackhole.port),
            port: blackhole.port,
            what: "direct"
        )
    }

    /// Starts `connect()` to `server` twice on one client (the second proves it usable after the first cancel),
    /// cancels each once it has been connecting for 300 ms (its socket seen), and checks the latency, the error and
    /// that no socket to `port` is left open.
    private func expectPromptCancellation(route: Route, server: Endpoint, port: Int, what: String) async throws {
        // The client's own thread is the `tt-connect` thread that was not there before it (other suites' clients
        // may have theirs).
        let otherClients = Set(RunQueueWaits.threads(named: "tt-connect"))
        let client = AsyncFrameworkClient(
            configuration: ClientConfiguration(
                server: server,
                route: route,
                identity: .acceptAny,
                connectTimeout: .seconds(30)
            ),
            trace: .disabled
        )
        // The blackhole's own filler connections are there already.
        let baseline = socketsOfThisProcess(toPort: port)
        for attempt in 1...2 {
            // On a loaded machine the client's thread may start late: the 300 ms count from its socket.
            let timing = try await cancelAndTime(
                after: .milliseconds(300),
                workers: { RunQueueWaits.threads(named: "tt-connect").filter { !otherClients.contains($0) } },
                underWay: { !socketsOfThisProcess(toPort: port).subtracting(baseline).isEmpty }
            ) { try await client.connect() }
            let took = "cancel to return took \(timing.latency), \(timing.waitedForCPU) of it waiting for a CPU"
            print("\(what) connect, attempt \(attempt): \(took)")
            #expect(timing.wasUnderWay, "attempt \(attempt) was connecting")
            #expect(timing.error is CancellationError, "attempt \(attempt): \(String(describing: timing.error))")
            #expect(timing.ownLatency < .milliseconds(100), "attempt \(attempt): \(took)")
            #expect(timing.latency < .seconds(3), "attempt \(attempt): a tenth of the connect timeout at most")
            #expect(
                socketsOfThisProcess(toPort: port).subtracting(baseline).isEmpty,
                "attempt \(attempt) left its socket open"
            )
            #expect(await !client.isConnected)
            #expect(await client.connectionCount == 0)
        }
    }
}
