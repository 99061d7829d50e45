import Foundation
import Glibc
import NIOCore
import Synchronization
import TTTestSupport
import Testing

@testable import TTProxy

/// Tunnels end without losing bytes and without leaking: half-close, teardown of both sides, the cap on target
/// connections, and tunnels back into the proxy.
@Suite("tt-proxy tunnel teardown")
struct TunnelTeardownTests {
    @Test("half-close is lossless: many MiB echoed after the client's FIN all arrive, and the log counts them")
    func halfCloseIsLossless() async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(TestProxy.start()) { proxy in
                let port = proxy.port
                let payload = testPayload(count: 4 << 20, seed: 42)
                let trials = 3
                for trial in 0..<trials {
                    let received = try await onThread {
                        let client = try RawClient(port: port)
                        try client.send(connectRequest("127.0.0.1:\(echo.port)"))
                        let (head, rest) = try client.readHead()
                        guard statusLine(head) == "HTTP/1.1 200 Connection established" else {
                            throw RawClientError(description: "no tunnel: \(head)")
                        }
                        // Everything first, then the FIN, then a reader slower than the proxy: the echo is still queued
                        // in the proxy when the target closes, which is when the old glue dropped it.
                        try client.send(payload, timeout: .seconds(20))
                        client.shutdownWrite()
                        return rest + client.readSlowlyToEnd(pause: .milliseconds(2), timeout: .seconds(20))
                    }
                    #expect(
                        received.count == payload.count,
                        "trial \(trial): \(received.count) of \(payload.count) bytes"
                    )
                    #expect(received == payload, "trial \(trial): the echoed bytes differ")
                    let log = try await proxy.waitForAccessLog(count: trial + 1)
                    #expect(log.count == trial + 1)
                    if let entry = log.last {
                        #expect(entry.bytesDown == received.count, "trial \(trial): logged \(entry.bytesDown)")
                        #expect(entry.bytesUp == payload.count)
                    }
                }
            }
        }
    }

    @Test("a client that leaves a target which writes but never reads: both sides are closed soon after")
    func nonReadingTargetIsReleased() async throws {
        let target = try FloodingTarget()
        defer { target.stop() }
        try await withStarted(TestProxy.start { $0.closeFlushTimeout = .milliseconds(300) }) { proxy in
            let port = proxy.port
            let tunnels = 5
            let filler = [UInt8](repeating: 0x41, count: 16 << 20)
            try await onThread {
                for _ in 0..<tunnels {
                    let client = try RawClient(port: port)
                    try client.send(connectRequest("127.0.0.1:\(target.port)"))
                    _ = try client.readHead()
                    // Fill the path towards the target, which never reads; the client leaves without reading either.
                    _ = try? client.send(filler, timeout: .milliseconds(500))
                }
            }
            await waitUntil { target.closedByPeer >= tunnels && proxy.server.connectionCount == 0 }
            #expect(target.accepted == tunnels)
            #expect(target.closedByPeer == tunnels, "target connections the proxy let go of")
            #expect(proxy.server.connectionCount == 0)
            let log = try await proxy.waitForAccessLog(count: tunnels)
            #expect(log.count == tunnels && log.allSatisfy { $0.outcome == "tunnel" })
        }
    }

    @Test("target connections count against --max-connections")
    func targetsCountAgainstTheCap() async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(TestProxy.start { $0.maxConnections = 3 }) { proxy in
                let port = proxy.port
                let (first, second, count) = try await onThread {
                    let first = try RawClient(port: port)
                    try first.send(connectRequest("127.0.0.1:\(echo.port)"))
                    let firstHead = statusLine(try first.readHead().head)
                    let second = try RawClient(port: port)
                    try second.send(connectRequest("127.0.0.1:\(echo.port)"))
                    let secondHead = try second.readHead()
                    return (firstHead, secondHead, proxy.server.connectionCount)
                }
                #expect(first == "HTTP/1.1 200 Connection established")
                #expect(statusLine(second.head) == "HTTP/1.1 503 Service Unavailable")
                #expect(String(decoding: second.rest, as: UTF8.self).contains("a tunnel uses two"))
                #expect(count >= 3)
            }
        }
    }

    @Test(
        "a CONNECT to the proxy's own listener gets 403 and the access log says loop",
        arguments: ["127.0.0.1", "localhost"]
    )
    func connectToItself(host: String) async throws {
        try await withStarted(TestProxy.start()) { proxy in
            let port = proxy.port
            let (head, body) = try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("\(host):\(port)"))
                let (head, rest) = try client.readHead()
                return (head, String(decoding: rest + client.readToEnd().bytes, as: UTF8.self))
            }
            #expect(statusLine(head) == "HTTP/1.1 403 Forbidden")
            #expect(body.contains("does not tunnel to itself"))
            let log = try await proxy.waitForAccessLog(count: 1)
            #expect(log.first?.status == 403 && log.first?.outcome == "loop")
        }
    }

    @Test("a target on the proxy's port but another address is not taken for the proxy")
    func ownListenersMatching() throws {
        let listeners = OwnListeners()
        listeners.add(try .init(ipAddress: "127.0.0.1", port: 3128))
        listeners.add(try .init(ipAddress: "::", port: 8080))
        #expect(listeners.contains(target: try .init(ipAddress: "127.0.0.1", port: 3128), local: nil))
        #expect(!listeners.contains(target: try .init(ipAddress: "127.0.0.1", port: 3129), local: nil))
        #expect(!listeners.contains(target: try .init(ipAddress: "192.0.2.7", port: 3128), local: nil))
        // A wildcard listener is reached through every local address with its port, in either family.
        #expect(listeners.contains(target: try .init(ipAddress: "::1", port: 8080), local: nil))
        #expect(listeners.contains(target: try .init(ipAddress: "::ffff:127.0.0.2", port: 8080), local: nil))
        let local = try SocketAddress(ipAddress: "198.51.100.4", port: 40000)
        #expect(listeners.contains(target: try .init(ipAddress: "198.51.100.4", port: 8080), local: local))
        #expect(!listeners.contains(target: try .init(ipAddress: "192.0.2.7", port: 8080), local: local))
    }
}

extension RawClient {
    /// Reads until the stream ends, pausing after each read: a client slower than the proxy.
    func readSlowlyToEnd(pause: Duration, timeout: Duration) -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while ContinuousClock.now < deadline {
            switch readSome(timeout: max(.zero, deadline - ContinuousClock.now)) {
            case .success(let chunk):
                bytes += chunk
                Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18)
            case .failure:
                return bytes
            }
        }
        return bytes
    }
}

/// A target that accepts connections, writes to each as fast as it can and never reads; it counts the
/// connections whose peer (the proxy) closed them.
final class FloodingTarget: Sendable {
    let port: Int
    private let listener: Int32
    private let state = Mutex((accepted: 0, closedByPeer: 0, stopped: false))

    init() throws {
        (listener, port) = try bindLoopback(listenBacklog: 16)
        let listener = self.listener
        Thread { [self] in
            while true {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                state.withLock { $0.accepted += 1 }
                Thread { self.flood(connection) }.start()
            }
        }.start()
    }

    var accepted: Int { state.withLock { $0.accepted } }
    var closedByPeer: Int { state.withLock { $0.closedByPeer } }

    private func flood(_ connection: Int32) {
        defer { close(connection) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let chunk = [UInt8](repeating: 0x5A, count: 65536)
        // Bounded: 60 s at most, in case a proxy never lets go.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, !state.withLock({ $0.stopped }) {
            let sent = chunk.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                state.withLock { $0.closedByPeer += 1 }
                return
            }
        }
    }

    /// Stops the listener and the writers.
    func stop() {
        state.withLock { $0.stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
