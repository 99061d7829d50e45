import Foundation
import Synchronization
import TTTestSupport
import Testing

@testable import TTTransport

/// Cancelling the async PAC resolution (issue 18): it returns at once with `CancellationError`, the evaluating
/// child process is killed and reaped, and the fetch's socket is closed.
///
/// "At once" is measured against what the call would otherwise have waited for, not against a fixed few
/// milliseconds that a loaded 2-core machine's scheduler alone can exceed (measured there: up to 207 ms from
/// cancel to return, while the code needs 1-35 ms). The time the threads on the way (the resolving `tt-pac`
/// thread, the task's thread) spent waiting for a CPU is not counted (``CancelTiming/ownLatency``).
@Suite("PAC resolution stops when its task is cancelled", .serialized)
struct PacCancellationTests {
    static let target = Endpoint(host: "intranet.example", port: 5000)

    @Test("a script with while(true){} cancelled after 300 ms returns long before its 30 s deadline; its child is gone")
    func endlessLoopIsCancelled() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pac-cancel-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("loop.pac").path
        try "function FindProxyForURL(u, h) { while (true) {} }".write(toFile: path, atomically: true, encoding: .utf8)

        let evaluators = Mutex<Set<pid_t>>([])
        let timing = try await cancelAndTime(
            after: .milliseconds(300),
            workers: { RunQueueWaits.threads(named: "tt-pac") },
            underWay: {
                let children = Self.evaluatingChildren()
                evaluators.withLock { $0.formUnion(children) }
                return !children.isEmpty
            }
        ) { _ = try await ProxyAutoConfig.resolve(location: path, target: Self.target, deadline: .after(.seconds(30))) }
        print("PAC evaluation: cancel to return \(timing.latency), \(timing.waitedForCPU) of it waiting for a CPU")

        #expect(timing.wasUnderWay)
        let children = evaluators.withLock { $0 }
        #expect(children.count == 1, "the evaluating child was running: \(children)")
        #expect(timing.error is CancellationError, "\(String(describing: timing.error))")
        // Without the cancel the evaluation runs to its 30 s deadline; the evaluator checks for it every 20 ms.
        Self.expectPrompt(timing, within: .seconds(1))
        for pid in children {
            // Killed and reaped: not even a zombie is left.
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "child \(pid) is still there")
        }
        #expect(await waitUntil { Self.evaluatingThreads().isEmpty }, "the evaluating thread ended")
    }

    @Test(
        "a PAC URL whose server never answers: cancelled after 300 ms, returns before libcurl would look again; socket closed"
    )
    func silentFetchIsCancelled() async throws {
        // Listening, never accepting: the kernel completes the connect, the request goes out, no answer comes.
        let (listener, port) = try bindLoopback(listenBacklog: 8)
        defer { close(listener) }
        let timing = try await cancelAndTime(
            after: .milliseconds(300),
            workers: { RunQueueWaits.threads(named: "tt-pac") },
            underWay: { !socketsOfThisProcess(toPort: port).isEmpty }
        ) {
            _ = try await ProxyAutoConfig.resolve(
                location: "http://127.0.0.1:\(port)/proxy.pac",
                target: Self.target,
                deadline: .after(.seconds(30))
            )
        }
        print("PAC fetch: cancel to return \(timing.latency), \(timing.waitedForCPU) of it waiting for a CPU")

        #expect(timing.wasUnderWay, "the fetch was connected")
        #expect(timing.error is CancellationError, "\(String(describing: timing.error))")
        // Without the socket's shutdown libcurl would see the cancel only at its next progress call, up to 1 s.
        Self.expectPrompt(timing, within: .milliseconds(500))
        #expect(socketsOfThisProcess(toPort: port).isEmpty, "the fetch's socket is closed")
        #expect(await waitUntil { Self.evaluatingThreads().isEmpty }, "the fetching thread ended")
    }

    /// The call gave up within `bound` of its own, and on the wall clock within a tenth of the 30 s deadline.
    private static func expectPrompt(_ timing: CancelTiming, within bound: Duration) {
        #expect(
            timing.ownLatency < bound,
            "cancel to return took \(timing.latency), \(timing.waitedForCPU) of it waiting for a CPU"
        )
        #expect(timing.latency < .seconds(3), "cancel to return took \(timing.latency) on the wall clock")
    }

    /// Child processes of this process's threads named `tt-pac`: the async resolution's evaluators (other tests'
    /// evaluations run on threads of other names).
    private static func evaluatingChildren() -> Set<pid_t> {
        var children: Set<pid_t> = []
        for task in evaluatingThreads() {
            let listed = (try? String(contentsOfFile: "/proc/self/task/\(task)/children", encoding: .utf8)) ?? ""
            children.formUnion(listed.split(separator: " ").compactMap { pid_t($0) })
        }
        return children
    }

    /// The threads of this process named `tt-pac` (the async resolution runs on one; it ends with the call).
    private static func evaluatingThreads() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix("tt-pac")
        }
    }
}
