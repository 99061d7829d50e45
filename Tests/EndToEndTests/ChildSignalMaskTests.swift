import Foundation
import Glibc
import TTTestSupport
import Testing

/// Children spawned by the test helpers start with no signal blocked: threads of the test runner can block
/// SIGTERM, SIGQUIT and SIGABRT, and a child that inherited that mask survived `RunningProcess.stop()`'s SIGTERM
/// and outlived the test run.
@Suite("Child processes of the tests start with an empty signal mask")
struct ChildSignalMaskTests {
    /// The signals set in a `/proc/<pid>/status` mask line such as `SigBlk:\t0000000000004000`.
    static func signals(in status: String, field: String) throws -> [Int32] {
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("\(field):") })
        let mask = try #require(UInt64(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16))
        return (1...64).filter { mask & (1 << UInt64($0 - 1)) != 0 }.map { Int32($0) }
    }

    /// Runs `body` on this thread with what the runner's threads were seen to block (SIGTERM, SIGQUIT, SIGABRT)
    /// blocked, then gives the thread its mask back.
    static func blockingRunnerSignals<T>(_ body: () throws -> T) rethrows -> T {
        var blocking = sigset_t()
        var saved = sigset_t()
        sigemptyset(&blocking)
        for signal in [SIGTERM, SIGQUIT, SIGABRT] { sigaddset(&blocking, signal) }
        pthread_sigmask(SIG_BLOCK, &blocking, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }

    @Test("a child of runProcess blocks no signal")
    func runProcessChildBlocksNothing() async throws {
        let result = try await runProcess(URL(fileURLWithPath: "/bin/grep"), ["^Sig", "/proc/self/status"])
        #expect(result.status == 0, "\(result.allOutput)")
        let blocked = try Self.signals(in: result.standardOutput, field: "SigBlk")
        #expect(blocked.isEmpty, "the child started with signals \(blocked) blocked")
        // Nor are the signals tests stop children with ignored (an ignored disposition survives exec). SIGPIPE is
        // not among them: SwiftNIO ignores it in the test process once an event loop runs, and a child inherits
        // that, which is harmless for our binaries (they handle EPIPE) and depends on test order.
        let ignored = try Self.signals(in: result.standardOutput, field: "SigIgn")
        let stopping = [SIGTERM, SIGINT, SIGQUIT, SIGHUP]
        #expect(ignored.allSatisfy { !stopping.contains($0) }, "the child started with signals \(ignored) ignored")
    }

    @Test("a RunningProcess started from a thread that blocks SIGTERM blocks nothing and ends on SIGTERM")
    func runningProcessChildBlocksNothing() async throws {
        // Blocked on the thread that starts the child, as on the runner's threads.
        let process = try await runBlocking {
            try Self.blockingRunnerSignals { try RunningProcess(URL(fileURLWithPath: "/bin/sleep"), ["60"]) }
        }
        try await withStarted(process) { process in
            let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
            let blocked = try Self.signals(in: status, field: "SigBlk")
            #expect(blocked.isEmpty, "the child started with signals \(blocked) blocked")
            // SIGKILL after 5 s is what `stop` falls back to; a child that honoured SIGTERM reports SIGTERM.
            let ended = await process.stop(signal: SIGTERM, timeout: .seconds(5))
            #expect(ended == SIGTERM, "the child ended with \(ended), not by SIGTERM")
        }
    }

    @Test(
        "a Process a test starts itself through runWithNoSignalBlocked, from a thread that blocks SIGTERM, blocks nothing"
    )
    func ownProcessChildBlocksNothing() async throws {
        let output = try await runBlocking { () throws -> String in
            try Self.blockingRunnerSignals {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/grep")
                process.arguments = ["^SigBlk", "/proc/self/status"]
                let pipe = Pipe()
                process.standardOutput = pipe
                try runWithNoSignalBlocked(process)
                // The mask this thread had is back once the child is spawned.
                var now = sigset_t()
                pthread_sigmask(SIG_SETMASK, nil, &now)
                #expect(sigismember(&now, SIGTERM) == 1)
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                return String(decoding: data, as: UTF8.self)
            }
        }
        let blocked = try Self.signals(in: output, field: "SigBlk")
        #expect(blocked.isEmpty, "the child started with signals \(blocked) blocked")
    }
}
