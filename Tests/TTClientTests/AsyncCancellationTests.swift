import Foundation
import TTClient
import TTTestSupport
import TTTransport
import Testing

/// Cancelling an `AsyncFrameworkClient` while it is still opening the connection (issue 18): the call returns at
/// once with `CancellationError`, its sockets are closed, and the client stays usable.
///
/// "At once" is measured against what the call would otherwise have waited for: libcurl's calls of its progress
/// callback, which also aborts the transfer, come up to a second apart, so the cancel shuts the socket down to
/// wake it; the bound is half that second, not a fixed few milliseconds that a loaded 2-core machine's scheduler alone
/// can exceed (measured there: up to 148 ms from cancel to return). The time the threads on the way (the client's
/// `tt-connect` thread, the task's thread) spent waiting for a CPU is not counted (``CancelTiming/ownLatency``).
@Suite("AsyncFrameworkClient: cancelling a connect returns before libcurl would look again", .serialized)
struct AsyncCancellationTests {
    @Test("a proxy that accepts and never answers the CONNECT: cancelled after 300 ms, back at once")
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

    @Test("a direct connect that gets no SYN-ACK (a full accept queue): cancelled after 300 ms, back at once")
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
            #expect(timing.ownLatency < .milliseconds(500), "attempt \(attempt): \(took)")
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
