import Foundation
import Synchronization
import TTTestSupport
import TTTransport
import Testing

/// Moves 32 MiB through real proxies with ``Relay`` and checks every byte and a checksum.
@Suite("Relay")
struct RelayTests {
    static let totalBytes = 32 * 1024 * 1024

    /// Deterministic bytes (xorshift), regenerated on the reading side for a byte-exact comparison.
    struct ByteStream {
        private var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        mutating func fill(_ buffer: inout [UInt8]) {
            for index in buffer.indices {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                buffer[index] = UInt8(truncatingIfNeeded: state >> 32)
            }
        }
    }

    /// FNV-1a 64, the checksum reported for both directions.
    struct Checksum {
        private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
        mutating func add(_ bytes: ArraySlice<UInt8>) {
            for byte in bytes {
                value ^= UInt64(byte)
                value &*= 0x100_0000_01b3
            }
        }
    }

    struct Outcome: Sendable {
        var relay: RelayResult
        var received: Int
        var mismatchAt: Int?
        var sentChecksum: UInt64
        var receivedChecksum: UInt64
    }

    /// Every byte came back in order, and the relay half-closed after the whole input, both ways counted.
    static func expectWholeRoundTrip(_ outcome: Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(outcome.received == totalBytes, sourceLocation: sourceLocation)
        #expect(outcome.mismatchAt == nil, sourceLocation: sourceLocation)
        #expect(outcome.receivedChecksum == outcome.sentChecksum, sourceLocation: sourceLocation)
        #expect(
            outcome.relay == RelayResult(bytesToPeer: totalBytes, bytesFromPeer: totalBytes, inputFinished: true),
            sourceLocation: sourceLocation
        )
    }

    /// Runs the relay between a tunnel and one end of a socket pair; the test drives the other end.
    /// - Parameter halfCloseEarly: shut down our write side as soon as everything is written; otherwise wait
    ///   until every byte came back. Through squid 5.7 and tinyproxy 1.11 a client half-close ends the whole
    ///   tunnel (squid dropped the last ~3-6 MiB still in flight when we half-closed early), so tests through
    ///   proxies half-close only after the echo is complete, and the relay must then see the end and finish.
    static func relayThrough(proxy: HTTPProxy?, target: Endpoint, halfCloseEarly: Bool) async throws -> Outcome {
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        let (relayEnd, testEnd) = (pair[0], pair[1])
        let allReceived = Mutex(false)

        async let relayResult = onThread {
            defer { close(relayEnd) }
            let transport: any Transport
            if let proxy {
                transport = try HTTPProxyTransport.open(target: target, proxy: proxy, deadline: .after(.seconds(10)))
            } else {
                transport = try DirectTransport.open(target, deadline: .after(.seconds(10)))
            }
            defer { transport.close() }
            return try Relay(transport: transport, input: relayEnd, output: relayEnd).run(
                deadline: .after(.seconds(120))
            )
        }
        async let sent = onThread {
            var stream = ByteStream()
            var checksum = Checksum()
            var chunk = [UInt8](repeating: 0, count: 256 * 1024)
            var written = 0
            while written < totalBytes {
                stream.fill(&chunk)
                checksum.add(chunk[...])
                var offset = 0
                while offset < chunk.count {
                    let count = chunk[offset...].withUnsafeBytes {
                        send(testEnd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    guard count > 0 else { throw CannedResponderError(description: "send failed: \(errno)") }
                    offset += count
                }
                written += chunk.count
            }
            if !halfCloseEarly {
                let giveUp = ContinuousClock.now + .seconds(120)
                while !allReceived.withLock({ $0 }), ContinuousClock.now < giveUp { usleep(1000) }
            }
            shutdown(testEnd, Int32(SHUT_WR))
            return checksum.value
        }
        let received = try await onThread {
            var expected = ByteStream()
            var checksum = Checksum()
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            var expectedChunk = [UInt8](repeating: 0, count: 256 * 1024)
            var expectedOffset = expectedChunk.count
            var total = 0
            var mismatchAt: Int?
            var timeout = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(testEnd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(testEnd, $0.baseAddress, $0.count, 0) }
                if count <= 0 { break }
                checksum.add(buffer[..<count])
                for index in 0..<count {
                    if expectedOffset == expectedChunk.count {
                        expected.fill(&expectedChunk)
                        expectedOffset = 0
                    }
                    if mismatchAt == nil, buffer[index] != expectedChunk[expectedOffset] { mismatchAt = total + index }
                    expectedOffset += 1
                }
                total += count
                if total >= totalBytes { allReceived.withLock { $0 = true } }
            }
            return (total, mismatchAt, checksum.value)
        }
        // The relay's own error first: when it fails it closes its end, and the sender's EPIPE would hide why.
        let relay = try await relayResult
        let sentChecksum = try await sent
        close(testEnd)
        return Outcome(
            relay: relay,
            received: received.0,
            mismatchAt: received.1,
            sentChecksum: sentChecksum,
            receivedChecksum: received.2
        )
    }

    @Test("32 MiB byte-exact over a direct connection, half-closing as soon as the input ends", .timeLimit(.minutes(3)))
    func direct() async throws {
        try await withStarted(EchoServer.start()) { echo in
            let outcome = try await Self.relayThrough(
                proxy: nil,
                target: Endpoint(host: "127.0.0.1", port: echo.port),
                halfCloseEarly: true
            )
            Self.expectWholeRoundTrip(outcome)
        }
    }

    @Test(
        "32 MiB byte-exact through squid, then half-close ends the relay",
        .enabled(if: RealProxies.squidTestsEnabled),
        .timeLimit(.minutes(3))
    )
    func squid() async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await RealSquid.with { squid in
                let proxy = HTTPProxy(endpoint: Endpoint(host: squid.host, port: squid.port))
                let started = ContinuousClock.now
                let outcome = try await Self.relayThrough(
                    proxy: proxy,
                    target: Endpoint(host: "127.0.0.1", port: echo.port),
                    halfCloseEarly: false
                )
                let elapsed = ContinuousClock.now - started
                print("relay through squid: 2 x 32 MiB in \(elapsed)")
                Self.expectWholeRoundTrip(outcome)
            }
        }
    }

    @Test(
        "32 MiB byte-exact through tinyproxy, then half-close ends the relay",
        .enabled(if: RealProxies.tinyproxyTestsEnabled),
        .timeLimit(.minutes(3))
    )
    func tinyproxy() async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await RealTinyproxy.with { tinyproxy in
                let proxy = HTTPProxy(endpoint: Endpoint(host: tinyproxy.host, port: tinyproxy.port))
                let started = ContinuousClock.now
                let outcome = try await Self.relayThrough(
                    proxy: proxy,
                    target: Endpoint(host: "127.0.0.1", port: echo.port),
                    halfCloseEarly: false
                )
                let elapsed = ContinuousClock.now - started
                print("relay through tinyproxy: 2 x 32 MiB in \(elapsed)")
                Self.expectWholeRoundTrip(outcome)
            }
        }
    }
}
