import Foundation
import TTTestSupport
import Testing

@testable import TTProxy

/// A client that does not wait for the answer to its CONNECT sends tunnel payload behind the head. Those bytes
/// are meant for the target: read as requests to the proxy, they would make requests of their own (request
/// smuggling), so a refusal, a `407` included, ends the connection without reading them.
@Suite("Bytes sent behind a CONNECT head before its answer never become requests to the proxy")
struct OptimisticPayloadTests {
    static let users = try! HtpasswdFile(contentsOf: TestProxy.fixture("htpasswd").path)

    @Test("behind a head that gets 407, a CONNECT with valid credentials opens no tunnel: 407, Connection: close, end")
    func noRequestSmuggledBehindAChallenge() async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(TestProxy.start { $0.users = Self.users }) { proxy in
                let port = proxy.port
                let target = "127.0.0.1:\(echo.port)"
                // The payload of a client that forwards before the 200: here itself a CONNECT with credentials
                // that are valid on this proxy, then bytes for its tunnel.
                let request =
                    connectRequest(target) + connectRequest(target, user: "bob", password: "b0b-pass") + "payload"
                let (head, after, end) = try await onThread {
                    let client = try RawClient(port: port)
                    try client.send(request)
                    let (head, rest) = try client.readHead()
                    let (more, end) = client.readToEnd(timeout: .seconds(5))
                    return (head, String(decoding: rest + more, as: UTF8.self), end)
                }
                #expect(statusLine(head) == "HTTP/1.1 407 Proxy Authentication Required")
                #expect(head.contains("\r\nProxy-Authenticate: Basic realm=\"tt-proxy\"\r\n"))
                #expect(head.contains("\r\nConnection: close\r\n"))
                #expect(!after.contains("HTTP/1.1 200"), "\(after)")
                #expect(!after.contains("payload"))
                #expect(end == .eof)
                #expect(proxy.accessLog.map { "\($0.status) \($0.outcome)" } == ["407 auth-required"])
            }
        }
    }

    @Test("payload written after the head, while the password check waits, also ends the connection after the 407")
    func payloadArrivingDuringTheCheck() async throws {
        try await withStarted(EchoServer.start()) { echo in
            // After one failure this address's next check waits a second: the payload arrives meanwhile.
            let configure: (inout ProxyServerConfiguration) -> Void = {
                $0.users = Self.users
                $0.authLimits.freeFailures = 0
                $0.authLimits.basePenalty = .seconds(1)
            }
            try await withStarted(TestProxy.start(configure: configure)) { proxy in
                let port = proxy.port
                let target = "127.0.0.1:\(echo.port)"
                let (head, after, end) = try await onThread {
                    let first = try RawClient(port: port)
                    try first.send(connectRequest(target, user: "bob", password: "wrong"))
                    _ = try first.readHead()
                    let client = try RawClient(port: port)
                    try client.send(connectRequest(target, user: "bob", password: "also-wrong"))
                    usleep(100_000)
                    try client.send(connectRequest(target, user: "bob", password: "b0b-pass") + "payload")
                    let (head, rest) = try client.readHead()
                    let (more, end) = client.readToEnd(timeout: .seconds(5))
                    return (head, String(decoding: rest + more, as: UTF8.self), end)
                }
                #expect(statusLine(head) == "HTTP/1.1 407 Proxy Authentication Required")
                #expect(head.contains("\r\nConnection: close\r\n"))
                #expect(!after.contains("HTTP/1.1 200"), "\(after)")
                #expect(!after.contains("payload"))
                #expect(end == .eof)
                #expect(!proxy.accessLog.contains { $0.outcome == "tunnel" })
            }
        }
    }
}
