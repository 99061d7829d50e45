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
            let (error, echoed, elapsed) = try await runBlocking { () throws -> (TransportError?, Int, Duration) in
                var pair: [Int32] = [0, 0]
                guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { return (nil, 0, .zero) }
                // The test end sends one byte every 100 ms for 1 s: far busier than the 1 s idle timeout.
                let testEnd = pair[1]
                let writerDone = DispatchSemaphore(value: 0)
                let writer = Thread {
                    for _ in 0..<10 {
                        var byte: UInt8 = 0x41
                        _ = write(testEnd, &byte, 1)
                        Thread.sleep(forTimeInterval: 0.1)
                    }
                    writerDone.signal()
                }
                writer.start()
                defer {
                    writerDone.wait()
                    close(pair[0])
                    close(pair[1])
                }
                let transport = try DirectTransport.open(target, deadline: .after(.seconds(10)))
                defer { transport.close() }
                let started = ContinuousClock.now
                var echoed = 0
                do {
                    _ = try Relay(transport: transport, input: pair[0], output: pair[0]).run(
                        idleTimeout: .seconds(1),
                        onActivity: { echoed += 1 }
                    )
                    return (nil, echoed, ContinuousClock.now - started)
                } catch let error as TransportError {
                    return (error, echoed, ContinuousClock.now - started)
                }
            }
            let failure = try #require(error)
            #expect(failure.category == .timedOut)
            #expect(failure.message.contains("idle"))
            #expect(echoed >= 2)
            // Traffic for ~1 s kept it alive, then 1 s of silence ended it (generous bounds for a loaded host).
            #expect(elapsed >= .milliseconds(1500))
            #expect(elapsed < .seconds(20))
        }
    }
}
