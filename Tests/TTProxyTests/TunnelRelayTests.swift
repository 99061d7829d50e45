import Foundation
import Glibc
import Synchronization
import TTTestSupport
import Testing

@testable import TTProxy

/// What the relay of established tunnels must keep from the SwiftNIO glue it replaced, in both of its modes:
/// backpressure, small writes delivered at once, and a failing side logged and released. (Half-close, the idle and
/// close-flush timeouts, the log's byte counts and shutdown are covered by the tunnel tests in ProxyTests and
/// TunnelTeardownTests, which run through it too.)
@Suite("tt-proxy tunnel relay")
struct TunnelRelayTests {
    /// A raw client whose CONNECT to `targetPort` got the exact 200 and nothing after it: an open tunnel.
    private static func openTunnel(proxyPort: Int, to targetPort: Int) throws -> RawClient {
        let client = try RawClient(port: proxyPort)
        try client.send(connectRequest("127.0.0.1:\(targetPort)"))
        let (head, rest) = try client.readHead()
        guard statusLine(head) == "HTTP/1.1 200 Connection established", rest.isEmpty else {
            throw RawClientError(description: "unexpected answer \(head)")
        }
        return client
    }

    @Test(
        "a target that does not read stops the client's bytes; once it reads, every byte arrives, then the end",
        arguments: ProxyServerConfiguration.RelayMode.allCases
    )
    func backpressureHoldsAndReleases(mode: ProxyServerConfiguration.RelayMode) async throws {
        let target = try HeldTarget()
        defer { target.stop() }
        try await withStarted(TestProxy.start { $0.relayMode = mode }) { proxy in
            let port = proxy.port
            let (head, sent, received) = try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:\(target.port)"))
                let (head, _) = try client.readHead()
                // Up to 512 MiB; the socket buffers between here and the target hold a few dozen at most, so a
                // relay that kept reading while the target does not would take it all.
                let chunk = testPayload(count: 1 << 20, seed: 7)
                let sent = client.sendUntilStalled(chunk, times: 512, stall: .seconds(2))
                client.shutdownWrite()
                return (head, sent, try target.readToEnd(expecting: chunk, timeout: .seconds(30)))
            }
            #expect(statusLine(head) == "HTTP/1.1 200 Connection established")
            #expect(sent < 256 << 20, "\(sent >> 20) MiB went out towards a target that does not read")
            #expect(sent > 0)
            #expect(received.count == sent, "the target got \(received.count) of \(sent) bytes")
            #expect(received.intact, "the bytes arrived changed or out of order")
            // The tunnel, and its log line, ends when the target ends too.
            target.closeConnection()
            let log = try await proxy.waitForAccessLog(count: 1)
            #expect(log.first?.bytesUp == sent)
        }
    }

    @Test(
        "a 1-byte exchange goes through at once each time: the relay never waits for more bytes to gather",
        arguments: ProxyServerConfiguration.RelayMode.allCases
    )
    func smallWritesAreNotHeldBack(mode: ProxyServerConfiguration.RelayMode) async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(TestProxy.start { $0.relayMode = mode }) { proxy in
                let port = proxy.port
                let (echoed, rounds) = try await onThread {
                    let client = try Self.openTunnel(proxyPort: port, to: echo.port)
                    // The tunnel stays open: only a relay that moves what is there, with nothing corked (MSG_MORE)
                    // or waiting for a fuller read, brings each byte back before the next is sent.
                    let clock = ContinuousClock()
                    var echoed: [UInt8] = []
                    var rounds: [Duration] = []
                    for index in 0..<30 {
                        let started = clock.now
                        try client.send([UInt8(index)])
                        echoed += try client.read(exactly: 1, timeout: .seconds(5))
                        rounds.append(clock.now - started)
                    }
                    return (echoed, rounds.sorted())
                }
                #expect(echoed == (0..<30).map { UInt8($0) })
                // Loopback round trips through the proxy take well under a millisecond on a quiet machine; 100 ms
                // leaves room for a loaded one and still fails a relay that gathers bytes on a timer.
                #expect(rounds[rounds.count / 2] < .milliseconds(100), "median round trip \(rounds[rounds.count / 2])")
            }
        }
    }

    @Test(
        "bytes after a TCP urgent byte are relayed at once: a read stops short at the mark, splice stops there for good",
        arguments: ProxyServerConfiguration.RelayMode.allCases
    )
    func bytesAfterAnUrgentMarkAreNotHeldBack(mode: ProxyServerConfiguration.RelayMode) async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(TestProxy.start { $0.relayMode = mode }) { proxy in
                let port = proxy.port
                let echoed = try await onThread {
                    let client = try Self.openTunnel(proxyPort: port, to: echo.port)
                    // A receive stops short at the urgent mark with bytes still waiting behind it, and they raise
                    // no new event: a relay that took the short read for "all there was" leaves them there until
                    // the client sends again, which this one does not (it waits for the echo).
                    try client.sendAroundUrgentByte(Array("abc".utf8), urgent: UInt8(ascii: "!"), Array("def".utf8))
                    return try client.read(exactly: 6, timeout: .seconds(5))
                }
                // The urgent byte is out of band: like the proxies it replaces, the relay passes on the stream.
                #expect(String(decoding: echoed, as: UTF8.self) == "abcdef")
            }
        }
    }

    @Test(
        "a target that resets: the client gets its bytes and the end, the reset is logged, nothing is left open",
        arguments: ProxyServerConfiguration.RelayMode.allCases
    )
    func targetResetIsLoggedAndReleased(mode: ProxyServerConfiguration.RelayMode) async throws {
        let lines = Mutex<[String]>([])
        let target = try HeldTarget(greeting: Array("hello".utf8), reset: true)
        defer { target.stop() }
        try await withStarted(
            TestProxy.start {
                $0.relayMode = mode
                $0.eventLog = { line in lines.withLock { $0.append(line) } }
            }
        ) {
            proxy in
            let port = proxy.port
            let (bytes, _) = try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:\(target.port)"))
                let (_, rest) = try client.readHead()
                let (more, end) = client.readToEnd(timeout: .seconds(10))
                return (rest + more, end)
            }
            #expect(bytes == Array("hello".utf8))
            await waitUntil { proxy.server.connectionCount == 0 && !lines.withLock { $0 }.isEmpty }
            #expect(proxy.server.connectionCount == 0)
            #expect(
                lines.withLock { $0 } == [
                    "tt-proxy: closing the target connection with 127.0.0.1:\(target.port): Connection reset by peer"
                ]
            )
            let log = try await proxy.waitForAccessLog(count: 1)
            #expect(log.first?.bytesDown == 5 && log.first?.outcome == "tunnel")
        }
    }

    @Test(
        "a client that ended its input and then resets is noticed though nothing flows to it: the tunnel closes",
        arguments: ProxyServerConfiguration.RelayMode.allCases
    )
    func resetAfterEndIsNoticed(mode: ProxyServerConfiguration.RelayMode) async throws {
        let lines = Mutex<[String]>([])
        // The target keeps its side open and silent: only the client's reset can end this tunnel before the idle
        // timeout (300 s).
        let target = try HeldTarget()
        defer { target.stop() }
        try await withStarted(
            TestProxy.start {
                $0.relayMode = mode
                $0.eventLog = { line in lines.withLock { $0.append(line) } }
            }
        ) {
            proxy in
            let port = proxy.port
            let head = try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:\(target.port)"))
                let (head, _) = try client.readHead()
                client.shutdownWrite()
                // Lets the end reach the relay before the reset.
                usleep(200_000)
                client.resetOnClose()
                return head
            }
            #expect(statusLine(head) == "HTTP/1.1 200 Connection established")
            #expect(await waitUntil { proxy.server.connectionCount == 0 }, "the tunnel outlived its client's reset")
            #expect(lines.withLock { $0 }.contains { $0.contains("closing the client connection") })
            let log = try await proxy.waitForAccessLog(count: 1)
            #expect(log.first?.outcome == "tunnel")
        }
    }

    @Test(
        "tunnels whose both ends finish around the handover each end once, and nothing is left open",
        arguments: ProxyServerConfiguration.RelayMode.allCases
    )
    func tunnelsEndingAtTheHandover(mode: ProxyServerConfiguration.RelayMode) async throws {
        // Each client sends its first bytes and its end with the CONNECT; each target hangs up on accepting, so
        // many of these tunnels are over within the relay's first look at them (the path that once forgot to free
        // them) and the rest moments later; each must be logged once and leave nothing registered.
        let rounds = 40
        let (listener, targetPort) = try bindLoopback(listenBacklog: 64)
        defer {
            // Wakes the accepting thread if fewer clients came.
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
        Thread {
            for _ in 0..<rounds {
                let accepted = accept(listener, nil, nil)
                guard accepted >= 0 else { return }
                close(accepted)
            }
        }.start()
        try await withStarted(TestProxy.start { $0.relayMode = mode }) { proxy in
            let port = proxy.port
            let heads = try await onThread {
                try (0..<rounds).map { _ in
                    let client = try RawClient(port: port)
                    try client.send(connectRequest("127.0.0.1:\(targetPort)") + "early bytes")
                    client.shutdownWrite()
                    let (head, _) = try client.readHead()
                    _ = client.readToEnd(timeout: .seconds(10))
                    return statusLine(head)
                }
            }
            #expect(heads.allSatisfy { $0 == "HTTP/1.1 200 Connection established" }, "\(Set(heads))")
            #expect(await waitUntil { proxy.server.connectionCount == 0 })
            let log = try await proxy.waitForAccessLog(count: rounds)
            #expect(log.count == rounds && log.allSatisfy { $0.outcome == "tunnel" })
        }
    }
}

/// A target that accepts one connection and reads nothing until asked; it may greet and then reset instead.
private final class HeldTarget: Sendable {
    let port: Int
    private let listener: Int32
    private let connection = Mutex<Int32>(-1)

    init(greeting: [UInt8] = [], reset: Bool = false) throws {
        (listener, port) = try bindLoopback(listenBacklog: 1)
        let listener = self.listener
        Thread { [self] in
            let accepted = accept(listener, nil, nil)
            guard accepted >= 0 else { return }
            if !greeting.isEmpty {
                _ = greeting.withUnsafeBytes { send(accepted, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            if reset {
                // Give the relay a moment to take the greeting, then SO_LINGER 0: the close sends a reset.
                usleep(100_000)
                var option = linger(l_onoff: 1, l_linger: 0)
                setsockopt(accepted, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
                close(accepted)
                return
            }
            connection.withLock { $0 = accepted }
        }.start()
    }

    /// Reads until the end of input: the byte count, and whether the bytes were `pattern` repeated.
    func readToEnd(expecting pattern: [UInt8], timeout: Duration) throws -> (count: Int, intact: Bool) {
        let deadline = ContinuousClock.now + timeout
        var descriptor: Int32 = -1
        while descriptor < 0 {
            descriptor = connection.withLock { $0 }
            guard ContinuousClock.now < deadline else { throw RawClientError(description: "no connection") }
            if descriptor < 0 { usleep(10_000) }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        var intact = true
        while ContinuousClock.now < deadline {
            var pending = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&pending, 1, 100) >= 0 else { break }
            guard pending.revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return (total, intact) }
            for index in 0..<count where buffer[index] != pattern[(total + index) % pattern.count] {
                intact = false
                break
            }
            total += count
        }
        throw RawClientError(description: "no end after \(total) bytes")
    }

    func closeConnection() {
        connection.withLock { descriptor in
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        closeConnection()
    }
}
