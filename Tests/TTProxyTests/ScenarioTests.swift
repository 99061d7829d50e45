import Foundation
import TTProxy
import TTTestSupport
import Testing

/// One test per `proxy-fixtures/*.scenario`: what a raw CONNECT client sees from each misbehaving proxy.
@Suite("Scenario files make tt-proxy misbehave exactly as documented")
struct ScenarioTests {
    /// Scenarios that answer with a success status and then tunnel to the real target.
    static let tunnelling: [(file: String, status: String)] = [
        ("tinyproxy-http10-200.scenario", "HTTP/1.0 200 Connection established"),
        ("200-no-reason.scenario", "HTTP/1.1 200"),
        ("2xx-other.scenario", "HTTP/1.1 204 No Content"),
        ("200-content-length-0.scenario", "HTTP/1.1 200 Connection established"),
        ("200-chunked.scenario", "HTTP/1.1 200 Connection established"),
        ("200-connection-close.scenario", "HTTP/1.1 200 Connection established"),
        ("200-bytewise.scenario", "HTTP/1.1 200 Connection established"),
        ("delayed-200.scenario", "HTTP/1.1 200 Connection established"),
    ]

    /// Scenarios that answer with an error page and close.
    static let errorPages: [(file: String, status: String)] = [
        ("403-forbidden.scenario", "HTTP/1.1 403 Forbidden"),
        ("405-method-not-allowed.scenario", "HTTP/1.1 405 Method Not Allowed"),
        ("501-not-implemented.scenario", "HTTP/1.1 501 Not Implemented"),
        ("502-bad-gateway.scenario", "HTTP/1.1 502 Bad Gateway"),
        ("503-service-unavailable.scenario", "HTTP/1.1 503 Service Unavailable"),
        ("504-gateway-timeout.scenario", "HTTP/1.1 504 Gateway Timeout"),
        ("squid-503-dns-fail.scenario", "HTTP/1.1 503 Service Unavailable"),
        ("nginx-502.scenario", "HTTP/1.1 502 Bad Gateway"),
        ("haproxy-503.scenario", "HTTP/1.1 503 Service Unavailable"),
        ("web-server-200-page.scenario", "HTTP/1.1 200 OK"),
    ]

    /// Scenarios that offer Basic among their challenges and tunnel after a retry with alice:secret.
    static let basicRetryFiles = ["407-basic.scenario", "407-multiple-challenges.scenario", "407-with-body.scenario"]

    static let others = [
        "200-with-tunnel-bytes.scenario", "407-digest.scenario", "407-then-close.scenario", "garbage.scenario",
        "tls-alert.scenario", "empty-reply.scenario", "reset.scenario", "headers-too-large.scenario",
        "never-answers.scenario",
    ]

    @Test("every scenario file parses and has a test here")
    func everyFileIsCovered() throws {
        let directory = TestProxy.fixture("")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".scenario") }
        for file in files {
            _ = try Scenario(contentsOf: directory.appendingPathComponent(file).path)
        }
        let covered = Self.tunnelling.map(\.file) + Self.errorPages.map(\.file) + Self.basicRetryFiles + Self.others
        #expect(Set(files) == Set(covered))
        #expect(files.count == covered.count)
    }

    @Test("success answers are followed by a working tunnel to the requested target", arguments: tunnelling)
    func successThenTunnel(file: String, status: String) async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(TestProxy.start(scenario: file)) { proxy in
                let port = proxy.port
                let result = try await onThread {
                    let client = try RawClient(port: port)
                    try client.send(connectRequest("127.0.0.1:\(echo.port)"))
                    let (head, rest) = try client.readHead()
                    let (echoed, end) = try client.exchange(Array("through the tunnel".utf8), prefix: rest)
                    return (head, echoed, end)
                }
                #expect(statusLine(result.0) == status)
                #expect(String(decoding: result.1, as: UTF8.self) == "through the tunnel")
                #expect(result.2 == .eof)
            }
        }
    }

    @Test("error answers carry their status and an HTML body, then the proxy closes", arguments: errorPages)
    func errorPage(file: String, status: String) async throws {
        try await withStarted(TestProxy.start(scenario: file)) { proxy in
            let port = proxy.port
            let (head, body, end) = try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:9"))
                let (head, rest) = try client.readHead()
                let (body, end) = client.readToEnd()
                return (head, rest + body, end)
            }
            #expect(statusLine(head) == status)
            // Header names compare without case (HAProxy writes `content-length`).
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length: ") }?
                .dropFirst(16)
            #expect(length.flatMap { Int($0) } == body.count)
            #expect(String(decoding: body, as: UTF8.self).hasPrefix("<html>"))
            #expect(end == .eof)
        }
    }

    @Test(
        "a 407 with a Basic challenge keeps the connection; the retry with credentials tunnels",
        arguments: basicRetryFiles
    )
    func basicRetry(file: String) async throws {
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(TestProxy.start(scenario: file)) { proxy in
                let port = proxy.port
                let target = "127.0.0.1:\(echo.port)"
                let (challenge, second, echoed) = try await onThread {
                    let client = try RawClient(port: port)
                    try client.send(connectRequest(target))
                    let (challenge, rest) = try client.readHead()
                    let length =
                        challenge.split(separator: "\r\n").first { $0.hasPrefix("Content-Length: ") }
                        .flatMap { Int($0.dropFirst(16)) } ?? 0
                    _ = try client.read(exactly: length - rest.count)
                    try client.send(connectRequest(target, user: "alice", password: "secret"))
                    let (second, afterHead) = try client.readHead()
                    return (challenge, second, try client.exchange(Array("retried".utf8), prefix: afterHead).bytes)
                }
                #expect(statusLine(challenge) == "HTTP/1.1 407 Proxy Authentication Required")
                #expect(challenge.contains("Basic realm=\"tt-fixtures\""))
                #expect(statusLine(second) == "HTTP/1.1 200 Connection established")
                #expect(echoed == Array("retried".utf8))
            }
        }
    }

    @Test("several challenges arrive as separate Proxy-Authenticate fields")
    func severalChallenges() async throws {
        let head = try await firstHead(of: "407-multiple-challenges.scenario")
        let challenges = head.split(separator: "\r\n").filter { $0.hasPrefix("Proxy-Authenticate: ") }
        #expect(challenges.map { $0.dropFirst(20).prefix { $0 != " " } } == ["Negotiate", "NTLM", "Digest"])
        #expect(head.contains(", Basic realm=\"tt-fixtures\""))
    }

    @Test("a Digest-only 407 keeps the connection open")
    func digestOnly() async throws {
        try await withStarted(TestProxy.start(scenario: "407-digest.scenario")) { proxy in
            let port = proxy.port
            let (head, next) = try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:9"))
                let (head, _) = try client.readHead()
                return (head, client.readToEnd(timeout: .milliseconds(300)).end)
            }
            #expect(statusLine(head) == "HTTP/1.1 407 Proxy Authentication Required")
            #expect(head.contains("Proxy-Authenticate: Digest realm=\"tt-fixtures\""))
            #expect(next == .timeout)
        }
    }

    @Test("a 407 with Connection: close is followed by the proxy closing")
    func authThenClose() async throws {
        let (bytes, end) = try await everything(from: "407-then-close.scenario")
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 407 Proxy Authentication Required\r\n"))
        #expect(String(decoding: bytes, as: UTF8.self).contains("Connection: close\r\n"))
        #expect(end == .eof)
    }

    @Test("the target's first bytes come in the same read as the 200")
    func tunnelBytesWithTheAnswer() async throws {
        try await withStarted(EchoServer.start(greeting: Array("TARGET-GREETING\n".utf8))) { echo in
            try await withStarted(TestProxy.start(scenario: "200-with-tunnel-bytes.scenario")) { proxy in
                let port = proxy.port
                let (first, echoed) = try await onThread {
                    let client = try RawClient(port: port)
                    try client.send(connectRequest("127.0.0.1:\(echo.port)"))
                    let first = try client.readSome().get()
                    return (first, try client.exchange(Array("ping".utf8)).bytes)
                }
                #expect(
                    String(decoding: first, as: UTF8.self)
                        == "HTTP/1.1 200 Connection established\r\n\r\nTARGET-GREETING\n"
                )
                #expect(echoed == Array("ping".utf8))
            }
        }
    }

    @Test("garbage, a TLS alert and an empty reply are sent as written, then the proxy closes")
    func rawReplies() async throws {
        let garbage = try await everything(from: "garbage.scenario")
        #expect(garbage.bytes.starts(with: Array("SSH-2.0-OpenSSH_9.2p1".utf8)))
        #expect(garbage.bytes.contains(0xFF) && garbage.end == .eof)
        let alert = try await everything(from: "tls-alert.scenario")
        #expect(alert.bytes == [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28] && alert.end == .eof)
        let empty = try await everything(from: "empty-reply.scenario")
        #expect(empty.bytes.isEmpty && empty.end == .eof)
    }

    @Test("the reset scenario ends the connection with a TCP reset")
    func reset() async throws {
        let result = try await everything(from: "reset.scenario")
        #expect(result.bytes.isEmpty)
        #expect(result.end == .reset)
    }

    @Test("oversized headers: about 100 KiB of header lines without an end of head")
    func headersTooLarge() async throws {
        let (bytes, end) = try await everything(from: "headers-too-large.scenario")
        #expect(bytes.count > 100 * 1024)
        #expect(bytes.firstRange(of: Array("\r\n\r\n".utf8)) == nil)
        #expect(end == .eof)
    }

    @Test("the never-answers proxy reads the request and stays silent")
    func neverAnswers() async throws {
        let (bytes, end) = try await everything(from: "never-answers.scenario", timeout: .milliseconds(500))
        #expect(bytes.isEmpty)
        #expect(end == .timeout)
    }

    private func everything(
        from file: String,
        timeout: Duration = .seconds(10)
    ) async throws -> (bytes: [UInt8], end: StreamEnd) {
        try await withStarted(TestProxy.start(scenario: file)) { proxy in
            let port = proxy.port
            return try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:9"))
                return client.readToEnd(timeout: timeout)
            }
        }
    }

    private func firstHead(of file: String) async throws -> String {
        try await withStarted(TestProxy.start(scenario: file)) { proxy in
            let port = proxy.port
            return try await onThread {
                let client = try RawClient(port: port)
                try client.send(connectRequest("127.0.0.1:9"))
                return try client.readHead().head
            }
        }
    }
}
