import NIOCore
import NIOPosix
import TTProtocol
import TTServer
import TTTestSupport
import Testing

extension SerializedSuites {
    /// Issue 18, finding 4: guessers rotating their source address (all of 127/8 is loopback) cannot delay a
    /// legitimate login: sources and users with a recent success have a lane of their own, and the rest together
    /// may only have a bounded number of checks waiting.
    @Suite("Under attack: rotating source addresses")
    struct RotatingSourceTests {
        @Test("100 guessers each connecting from a new 127.x.y.z do not keep a known login past 2 s")
        func rotatingGuessers() async throws {
            try await withThreadPool { pool in
                try await withTestServer(
                    users: [:],
                    configure: {
                        // Slow on purpose, as real password hashes are.
                        $0.users = UserDirectory(["alice": PasswordHash(hashing: "right", iterations: 50_000)])
                        $0.maxConcurrentLoginChecks = 1
                        $0.maxLogLinesPerSecond = 5
                    },
                    threadPool: pool
                ) { server in
                    let port = server.port
                    // alice logged in from her address before the attack: both are known now.
                    let first = try await TestClient.connect(host: "127.0.0.1", port: port)
                    #expect(try await first.login(user: "alice", password: "right").rc == .requestOK)
                    await first.close()

                    let flooding = ManagedFlag()
                    let answered = ManagedCounter()
                    let busy = ManagedCounter()
                    let flood = Task {
                        await withTaskGroup(of: Void.self) { group in
                            for guesser in 0..<100 {
                                group.addTask {
                                    // Bounded: until told to stop, 60 connections or 30 s at most.
                                    let deadline = ContinuousClock.now + .seconds(30)
                                    var round = 0
                                    while flooding.isSet, round < 60, ContinuousClock.now < deadline {
                                        round += 1
                                        let address = "127.\(1 + guesser).\(round / 200).\(1 + round % 200)"
                                        guard
                                            let client = try? await TestClient.connect(
                                                host: "127.0.0.1",
                                                port: port,
                                                localAddress: address
                                            )
                                        else { continue }
                                        if let answer = try? await client.login(user: "alice", password: "guess") {
                                            answered.increment()
                                            // An answer that comes at once paces a guesser no more: 100 ms
                                            // keeps this a guess flood, not a test of the accept loop.
                                            if answer.rc == .serverBusy {
                                                busy.increment()
                                                try? await Task.sleep(for: .milliseconds(100))
                                            }
                                        }
                                        await client.close()
                                    }
                                }
                            }
                        }
                    }
                    // Let the guessers fill the queues first.
                    await waitUntil { server.server.pendingLoginChecks >= 10 }
                    var answers: [ReturnCode] = []
                    var slowest = Duration.zero
                    for _ in 0..<3 {
                        let legit = try await TestClient.connect(host: "127.0.0.1", port: port)
                        let sent = ContinuousClock.now
                        answers.append(try await legit.login(user: "alice", password: "right").rc)
                        slowest = max(slowest, ContinuousClock.now - sent)
                        await legit.close()
                    }
                    let pendingDuringFlood = server.server.pendingLoginChecks
                    flooding.clear()
                    await flood.value
                    #expect(answers == [.requestOK, .requestOK, .requestOK])
                    #expect(slowest < .seconds(2), "slowest legitimate login \(slowest)")
                    // The flood was real: the queue was full and guesses were turned away unchecked.
                    #expect(pendingDuringFlood >= 10, "pending checks \(pendingDuringFlood)")
                    #expect(busy.value > 0, "\(busy.value) of \(answered.value) guesses answered busy")
                }
            }
        }
    }
}
