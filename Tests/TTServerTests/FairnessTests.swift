import NIOCore
import NIOPosix
import Synchronization
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// Issue 13, findings 4, 5 and 12: hostile peers that have not logged in cannot hold sessions with a
    /// trickle, starve logins from other addresses, or take the thread pool from logged-in sessions.
    @Suite("Under attack: fair service")
    struct FairnessTests {
        @Test("A frame trickled one byte at a time is cut off at the frame deadline, within the idle timeout")
        func trickledFrame() async throws {
            let logs = LogCapture()
            try await withTestServer(limits: ProtocolLimits(idleTimeout: .seconds(2)), logs: logs) { server in
                let client = try await TestClient.connect(to: server)
                let frame = try client.codec.encode(.request(RequestPacket(function: .ping)))
                let started = ContinuousClock.now
                // One byte every 0.5 s would reset an idle timer of 2 s for ever; 20 bytes at most (10 s).
                var sent = 0
                while sent < min(frame.count - 1, 20), client.connection.channel.isActive {
                    try? await client.connection.send([frame[sent]])
                    sent += 1
                    try await Task.sleep(for: .milliseconds(500))
                }
                try await client.connection.expectClosed(timeout: .seconds(5))
                let elapsed = ContinuousClock.now - started
                #expect(elapsed < .seconds(8), "held for \(elapsed)")
                #expect(await logs.waitForCloseReason(containing: "not complete within 2.0 s") != nil)
            }
        }

        @Test("The frame deadline is its own setting below the idle timeout, and waits while the server holds reading")
        func frameTimeoutSetting() async throws {
            let logs = LogCapture()
            try await withTestServer(
                limits: ProtocolLimits(idleTimeout: .seconds(60)),
                logs: logs,
                configure: { $0.frameTimeout = .seconds(1) }
            ) { server in
                let client = try await TestClient.connect(to: server)
                let frame = try client.codec.encode(.request(RequestPacket(function: .ping)))
                try await client.connection.send(Array(frame.prefix(3)))
                try await client.connection.expectClosed(timeout: .seconds(10))
                #expect(await logs.waitForCloseReason(containing: "not complete within 1.0 s") != nil)
                // Whole frames, however slow between them, are not cut off.
                let patient = try await TestClient.connect(to: server)
                for _ in 0..<2 {
                    #expect(try await patient.ping().rc == .requestOK)
                    try await Task.sleep(for: .milliseconds(1500))
                }
                #expect(try await patient.ping().rc == .requestOK)
                await patient.close()
            }
        }

        @Test("A login flood from one address does not starve a login from another; flooding sessions are closed")
        func loginFlood() async throws {
            let logs = LogCapture()
            // A pool of its own: the slow checks of this test must not delay the other suites' servers.
            try await withThreadPool { pool in
                try await withTestServer(
                    users: [:],
                    logs: logs,
                    configure: {
                        $0.acceptsProxyProtocol = true
                        // Slow on purpose, as real password hashes are: each check takes a while.
                        $0.users = UserDirectory(["alice": PasswordHash(hashing: "right", iterations: 50_000)])
                        $0.maxConcurrentLoginChecks = 1
                        $0.maxOffloadedJobs = 4
                        $0.maxLogLinesPerSecond = 5
                    },
                    threadPool: pool
                ) { server in
                    let guess = RequestPacket(
                        function: .login,
                        payload: try LoginPayload(user: "alice", password: "wrong").serialize()
                    )
                    let flooding = ManagedFlag()
                    let floodClosed = ManagedCounter()
                    // 16 sessions from one address, each pipelining 8 wrong logins at a time, reconnecting when closed.
                    let flood = Task {
                        await withTaskGroup(of: Void.self) { group in
                            for _ in 0..<16 {
                                group.addTask {
                                    while flooding.isSet {
                                        guard let client = try? await TestClient.connect(to: server, from: "192.0.2.66")
                                        else { continue }
                                        do {
                                            while flooding.isSet {
                                                for _ in 0..<8 {
                                                    try await client.connection.send(
                                                        client.codec.encode(.request(guess))
                                                    )
                                                }
                                                for _ in 0..<8 {
                                                    _ = try await client.receiveResponse(timeout: .seconds(30))
                                                }
                                            }
                                        } catch {
                                            floodClosed.increment()
                                        }
                                        await client.close()
                                    }
                                }
                            }
                        }
                    }
                    // Let the flood fill the queue of its address first.
                    await waitUntil { server.server.pendingLoginChecks >= 3 }
                    var answers: [ReturnCode] = []
                    var slowest = Duration.zero
                    for attempt in 0..<3 {
                        let legit = try await TestClient.connect(to: server, from: "198.51.100.\(attempt + 1)")
                        let sent = ContinuousClock.now
                        answers.append(try await legit.login(user: "alice", password: "right").rc)
                        slowest = max(slowest, ContinuousClock.now - sent)
                        await legit.close()
                    }
                    flooding.clear()
                    await flood.value
                    // Dropped lines are reported with the next line of their message that gets through, a second
                    // later at the earliest: a fast machine can finish the whole flood within one second.
                    try await Task.sleep(for: .milliseconds(1100))
                    let late = try await TestClient.connect(to: server, from: "203.0.113.9")
                    #expect(try await late.login(user: "alice", password: "wrong").rc == .loginRejected)
                    await late.close()
                    #expect(answers == [.requestOK, .requestOK, .requestOK])
                    #expect(slowest < .seconds(15), "slowest legitimate login \(slowest)")
                    #expect(floodClosed.value > 0)
                    #expect(logs.closeReasons.contains { $0.contains("failed logins") })
                    // Rate-limited: a handful of lines a second, and the rest counted.
                    let rejected = logs.all.filter { $0.message == "login rejected" || $0.message == "server busy" }
                    #expect(logs.all.contains { $0.message == "suppressed similar log lines" })
                    #expect(rejected.count < 400, "\(rejected.count) lines")
                }
            }
        }

        @Test("Decompression bombs from sessions not logged in do not make a logged-in client's Echo busy")
        func bombsBeforeLogin() async throws {
            try await withThreadPool { pool in
                try await withTestServer(configure: { $0.maxOffloadedJobs = 2 }, threadPool: pool) { server in
                    // Compressed once: 60 MiB of zeros in about 60 KiB of gzip; each session only seals it.
                    let bomb = GzipCodec().compress(
                        Packet.request(RequestPacket(function: .echo, payload: [UInt8](repeating: 0, count: 60 << 20)))
                            .serialize()
                    )
                    let bombing = ManagedFlag()
                    let bombers = Task {
                        await withTaskGroup(of: Void.self) { group in
                            for _ in 0..<8 {
                                group.addTask {
                                    while bombing.isSet {
                                        guard let client = try? await TestClient.connect(to: server) else { continue }
                                        if let frame = try? FrameSealer(keys: client.keys).seal(bomb) {
                                            try? await client.connection.send(frame)
                                            _ = try? await client.receiveResponse(timeout: .seconds(10))
                                        }
                                        await client.close()
                                    }
                                }
                            }
                        }
                    }
                    let client = try await TestClient.connect(to: server)
                    #expect(try await client.login(user: "batch", password: "batch").rc == .requestOK)
                    let payload = pseudoRandomBytes(count: 256 << 10)
                    var codes: [ReturnCode] = []
                    for _ in 0..<20 {
                        codes.append(try await client.echo(payload).rc)
                    }
                    bombing.clear()
                    await bombers.value
                    #expect(codes.allSatisfy { $0 == .requestOK }, "\(codes)")
                    await client.close()
                }
            }
        }
    }
}

/// A flag tasks poll to know when to stop.
final class ManagedFlag: Sendable {
    private let state = Mutex(true)
    var isSet: Bool { state.withLock { $0 } }
    func clear() { state.withLock { $0 = false } }
}

/// A counter shared by tasks.
final class ManagedCounter: Sendable {
    private let state = Mutex(0)
    var value: Int { state.withLock { $0 } }
    func increment() { state.withLock { $0 += 1 } }
}
