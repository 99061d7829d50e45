import Foundation
import Glibc
import TTTestSupport
import Testing

@testable import TTTransport

/// A proxy that answers CONNECT one byte at a time and never finishes its head: libcurl's connect timeout covers
/// the whole CONNECT exchange, so each byte arriving in time does not stretch it.
@Suite("Trickling proxies")
struct TricklingProxyTests {
    @Test("a proxy trickling an endless answer head, a byte every 100 ms, is given up at the deadline")
    func trickle() async throws {
        let (listener, port) = try bindLoopback(listenBacklog: 4)
        let server = Thread {
            defer { close(listener) }
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 5000) > 0 else { return }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            defer { close(client) }
            let head = Array("HTTP/1.1 200 Connection established\r\nX-Slow: ".utf8)
            // Bounded: at most 100 bytes (10 s), or until the client goes away.
            for index in 0..<100 {
                var byte = index < head.count ? head[index] : UInt8(ascii: "z")
                guard send(client, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
                usleep(100_000)
            }
        }
        server.start()
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: port))
        let (error, elapsed) = try await timedTransportFailure {
            _ = try HTTPProxyTransport.open(
                target: Endpoint(host: "127.0.0.1", port: 5000),
                proxy: proxy,
                deadline: .after(.seconds(2))
            )
        }
        #expect(error.category == .timedOut, "\(error)")
        #expect(error.stage == .proxyTunnel, "\(error)")
        #expect(elapsed >= .milliseconds(1900) && elapsed < .seconds(4), "\(elapsed)")
    }
}
