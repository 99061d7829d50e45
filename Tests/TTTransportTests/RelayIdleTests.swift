import Foundation
import TTTestSupport
import TTTransport
import Testing

/// The relay half of finding 13 of issue 13: a relay with no traffic ran forever.
@Suite("Relay idle timeout")
struct RelayIdleTests {
    @Test("a relay with no byte moving for idleTimeout ends with timedOut; traffic keeps it alive")
    func idleTimeout() async throws {
        try await withStarted(EchoServer.start()) { echo in
            let target = Endpoint(host: "127.0.0.1", port: echo.port)
            let (error, echoed, timing) = try await runBlocking {
                () throws -> (TransportError?, Int, (traffic: Duration, silence: Duration)) in
                var pair: [Int32] = [0, 0]
                guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
                    return (nil, 0, (.zero, .zero))
                }
                defer {
                    close(pair[0])
                    close(pair[1])
                }
                let transport = try DirectTransport.open(target, deadline: .after(.seconds(10)))
                defer { transport.close() }
                // The test end sends one byte every 100 ms for 1.5 s: busier than the 1 s idle timeout, and for
                // longer. It starts only once the transport is open, so its bytes are spread over the relay's life
                // rather than queued while the connection was made (which on a loaded machine took the traffic
                // phase's place, and the relay then rightly timed out a second after its start).
                let testEnd = pair[1]
                let writerDone = DispatchSemaphore(value: 0)
                let writer = Thread {
                    for _ in 0..<15 {
                        var byte: UInt8 = 0x41
                        _ = write(testEnd, &byte, 1)
                        Thread.sleep(forTimeInterval: 0.1)
                    }
                    writerDone.signal()
                }
                let started = ContinuousClock.now
                writer.start()
                defer { writerDone.wait() }
                var echoed = 0
                var lastActivity = started
                do {
                    _ = try Relay(transport: transport, input: pair[0], output: pair[0]).run(
                        idleTimeout: .seconds(1),
                        onActivity: {
                            echoed += 1
                            lastActivity = ContinuousClock.now
                        }
                    )
                    return (nil, echoed, (lastActivity - started, ContinuousClock.now - lastActivity))
                } catch let error as TransportError {
                    return (error, echoed, (lastActivity - started, ContinuousClock.now - lastActivity))
                }
            }
            let failure = try #require(error)
            #expect(failure.category == .timedOut)
            #expect(failure.message.contains("idle"))
            #expect(echoed >= 2)
            // Traffic kept it alive: bytes still moved more than an idle timeout after the relay started (the
            // writer's last byte leaves 1.4 s after its first at the earliest; load only delays it).
            #expect(timing.traffic > .milliseconds(1200), "the last byte moved \(timing.traffic) after the start")
            // Then an idle timeout of silence ended it, and not much more (generous for a loaded host). The relay
            // sets its idle deadline just before it calls onActivity, so the silence seen here can be a little short
            // of the second when that call was delayed.
            #expect(timing.silence >= .milliseconds(900), "ended \(timing.silence) after the last byte")
            #expect(timing.silence < .seconds(20))
        }
    }
}
