import Foundation
import TTTestSupport
import TTTransport
import Testing

/// Failure mapping of the CONNECT exchange against small canned responders on loopback.
///
/// `libcurlCode` pins what libcurl 7.88 returns in each case: the failure matrix the CLI builds on.
@Suite("Proxy failures")
struct ProxyFailureTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var reply: [UInt8]
        var ending: CannedResponder.Ending
        var category: TransportError.Category
        var stage: TransportError.Stage
        var status: Int?
        var libcurlCode: Int
        var messageContains: String
        var testDescription: String { name }
    }

    static func http(_ head: String, body: String = "") -> [UInt8] {
        Array((head + "\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body).utf8)
    }

    static let html = "<html><body><h1>Error</h1><p>The proxy says no.</p></body></html>\n"

    static let cases: [Case] = [
        Case(
            name: "302 redirect (a captive portal)",
            reply: http("HTTP/1.1 302 Found\r\nLocation: http://portal.example/login", body: html),
            ending: .close,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: 302,
            libcurlCode: 56,
            messageContains: "not a CONNECT answer"
        ),
        Case(
            name: "500 Internal Server Error",
            reply: http("HTTP/1.1 500 Internal Server Error", body: html),
            ending: .close,
            category: .proxyRefused,
            stage: .proxyTunnel,
            status: 500,
            libcurlCode: 56,
            messageContains: "refused the tunnel"
        ),
        Case(
            name: "403 Forbidden",
            reply: http("HTTP/1.1 403 Forbidden\r\nContent-Type: text/html", body: html),
            ending: .close,
            category: .proxyRefused,
            stage: .proxyTunnel,
            status: 403,
            libcurlCode: 56,
            messageContains: "refused the tunnel"
        ),
        Case(
            name: "405 Method Not Allowed",
            reply: http("HTTP/1.1 405 Method Not Allowed", body: html),
            ending: .close,
            category: .proxyRefused,
            stage: .proxyTunnel,
            status: 405,
            libcurlCode: 56,
            messageContains: "does not allow CONNECT"
        ),
        Case(
            name: "502 Bad Gateway",
            reply: http("HTTP/1.1 502 Bad Gateway", body: html),
            ending: .close,
            category: .proxyGatewayFailure,
            stage: .proxyTunnel,
            status: 502,
            libcurlCode: 56,
            messageContains: "could not reach the server"
        ),
        Case(
            name: "503 Service Unavailable",
            reply: http("HTTP/1.1 503 Service Unavailable", body: html),
            ending: .close,
            category: .proxyGatewayFailure,
            stage: .proxyTunnel,
            status: 503,
            libcurlCode: 56,
            messageContains: "could not reach the server"
        ),
        Case(
            name: "504 Gateway Timeout",
            reply: http("HTTP/1.0 504 Gateway Timeout", body: html),
            ending: .holdOpen,
            category: .proxyGatewayFailure,
            stage: .proxyTunnel,
            status: 504,
            libcurlCode: 56,
            messageContains: "504 Gateway Timeout"
        ),
        Case(
            name: "garbage",
            reply: Array("SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n".utf8),
            ending: .close,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: nil,
            libcurlCode: 56,
            messageContains: "not HTTP"
        ),
        Case(
            name: "TLS alert record",
            reply: [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
            ending: .close,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: nil,
            libcurlCode: 56,
            messageContains: "use https://"
        ),
        Case(
            name: "empty reply",
            reply: [],
            ending: .close,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: nil,
            libcurlCode: 56,
            messageContains: "empty or cut-off reply"
        ),
        Case(
            name: "reset",
            reply: [],
            ending: .reset,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: nil,
            libcurlCode: 56,
            messageContains: "reset the connection"
        ),
        Case(
            name: "oversized headers (2000 lines)",
            reply: Array(
                ("HTTP/1.1 200 OK\r\n"
                    + (0..<2000).map { "X-Filler-\($0): \(String(repeating: "a", count: 40))\r\n" }.joined() + "\r\n")
                    .utf8
            ),
            ending: .close,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: 200,
            libcurlCode: 0,
            messageContains: "too large"
        ),
        Case(
            name: "one oversized header line",
            reply: Array(("HTTP/1.1 200 OK\r\nX-Filler: " + String(repeating: "a", count: 20000) + "\r\n\r\n").utf8),
            ending: .close,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: 200,
            libcurlCode: 56,
            messageContains: "too large"
        ),
        Case(
            name: "TLS alert record after newline",
            reply: [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46, 0x0d, 0x0a],
            ending: .close,
            category: .proxyProtocolViolation,
            stage: .proxyTunnel,
            status: nil,
            libcurlCode: 56,
            messageContains: "answered with TLS"
        ),
    ]

    @Test("a proxy's failure answer maps to its category, stage and status", arguments: cases)
    func failureAnswer(_ testCase: Case) async throws {
        let responder = try CannedResponder(reply: testCase.reply, ending: testCase.ending)
        defer { responder.stop() }
        let proxy = HTTPProxy(
            endpoint: Endpoint(host: "127.0.0.1", port: responder.port),
            credentials: ProxyCredentials(user: "matrix", password: "Matrix-Secret-5")
        )
        let error = try await onThread {
            do {
                _ = try HTTPProxyTransport.open(
                    target: Endpoint(host: "127.0.0.1", port: 5000),
                    proxy: proxy,
                    deadline: .after(.seconds(10))
                )
                return TransportError?.none
            } catch let error as TransportError {
                return error
            }
        }
        let failure = try #require(error, "\(testCase.name) must fail")
        #expect(failure.category == testCase.category)
        #expect(failure.stage == testCase.stage)
        #expect(failure.proxyStatus == testCase.status)
        #expect(failure.libcurlCode == testCase.libcurlCode)
        #expect(failure.message.contains(testCase.messageContains), "\(failure.message)")
        #expect(failure.message.contains("127.0.0.1:\(responder.port)"), "names the proxy: \(failure.message)")
        #expect(!"\(failure)".contains("Matrix-Secret-5") && !String(reflecting: failure).contains("Matrix-Secret-5"))
    }
}

@Suite("Proxy connection failures")
struct ProxyConnectionFailureTests {
    static let target = Endpoint(host: "127.0.0.1", port: 5000)

    @Test("a proxy that never answers CONNECT times out at the tunnel stage")
    func neverAnswers() async throws {
        let responder = try CannedResponder(reply: [], ending: .holdOpen)
        defer { responder.stop() }
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: responder.port))
        let (error, elapsed) = try await timedTransportFailure {
            _ = try HTTPProxyTransport.open(target: Self.target, proxy: proxy, deadline: .after(.milliseconds(500)))
        }
        #expect(elapsed >= .milliseconds(490) && elapsed < .seconds(10))
        #expect(error.category == .timedOut)
        #expect(error.stage == .proxyTunnel)
        #expect(error.libcurlCode == 28)
        #expect(error.message.contains("did not answer the CONNECT request for 127.0.0.1:5000"), "\(error)")
        #expect(responder.receivedRequests.first?.hasPrefix("CONNECT 127.0.0.1:5000 HTTP/1.1\r\n") == true)
        #expect(responder.receivedRequests.first?.contains("User-Agent: tt-connect/") == true)
    }

    @Test("a proxy port with nothing listening is proxyUnreachable and names the port")
    func refused() async throws {
        let closed = try ClosedPort()
        let port = closed.port
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: port))
        let error = try await transportFailure {
            _ = try HTTPProxyTransport.open(target: Self.target, proxy: proxy, deadline: .after(.seconds(5)))
        }
        #expect(error.category == .proxyUnreachable)
        #expect(error.category == .proxyUnreachable)
        #expect(error.stage == .proxyConnect)
        #expect(error.libcurlCode == 7)
        #expect(error.message.contains("http://127.0.0.1:\(port) refused the connection"), "\(error)")
    }

    @Test("a proxy name that does not resolve is proxyUnreachable")
    func unresolvable() async throws {
        let proxy = HTTPProxy(endpoint: Endpoint(host: "no-such-proxy.invalid", port: 3128))
        let error = try await transportFailure {
            _ = try HTTPProxyTransport.open(target: Self.target, proxy: proxy, deadline: .after(.seconds(5)))
        }
        #expect(error.category == .proxyUnreachable)
        #expect(error.stage == .proxyConnect)
        #expect(error.libcurlCode == 5)
        #expect(
            error.message.contains("\"no-such-proxy.invalid\" (proxy http://no-such-proxy.invalid:3128)"),
            "\(error)"
        )
    }

    @Test("a proxy that does not answer the TCP handshake times out at the connect stage")
    func connectTimeout() async throws {
        let blackhole = try FullBacklogListener()
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: blackhole.port))
        let error = try await transportFailure {
            _ = try HTTPProxyTransport.open(target: Self.target, proxy: proxy, deadline: .after(.milliseconds(300)))
        }
        withExtendedLifetime(blackhole) {}
        #expect(error.category == .timedOut)
        #expect(error.stage == .proxyConnect)
        #expect(error.libcurlCode == 28)
        #expect(error.message.contains("connecting to proxy http://127.0.0.1:\(blackhole.port) timed out"), "\(error)")
    }

    @Test("a web server answering 200 with a page is a tunnel, not a transport error; the page is tunnel data")
    func webServer200() async throws {
        let page = "<html><body>Welcome</body></html>"
        let reply = Array(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(page.utf8.count)\r\n\r\n\(page)".utf8
        )
        let responder = try CannedResponder(reply: reply, ending: .close)
        defer { responder.stop() }
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: responder.port))
        let (data, status) = try await onThread {
            let transport = try HTTPProxyTransport.open(
                target: Self.target,
                proxy: proxy,
                deadline: .after(.seconds(5))
            )
            var collected: [UInt8] = []
            for _ in 0..<100 {
                let chunk = try transport.receiveSome(maxCount: 4096, deadline: .after(.seconds(5)))
                if chunk.isEmpty { break }
                collected += chunk
            }
            return (collected, transport.report.proxyStatus)
        }
        #expect(status == 200)
        #expect(String(decoding: data, as: UTF8.self) == page)
    }

    @Test("407 from a canned proxy lists every offered scheme")
    func severalChallenges() async throws {
        let reply = Array(
            ("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n"
                + "Proxy-Authenticate: Digest realm=\"x\", nonce=\"abc\", qop=\"auth\"\r\n"
                + "Proxy-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n").utf8
        )
        let responder = try CannedResponder(reply: reply, ending: .close)
        defer { responder.stop() }
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: responder.port))
        let error = try await transportFailure {
            _ = try HTTPProxyTransport.open(target: Self.target, proxy: proxy, deadline: .after(.seconds(5)))
        }
        #expect(error.category == .proxyAuthenticationRequired)
        #expect(error.libcurlCode == 56)
        #expect(error.offeredAuthSchemes == ["Basic", "Digest", "NTLM"])
        #expect(error.message.contains("it offers Basic, Digest, NTLM"), "\(error)")
    }

    @Test("an IPv6 target goes in brackets in the CONNECT line and Host header")
    func ipv6ConnectLine() async throws {
        let responder = try CannedResponder(reply: Array("HTTP/1.1 403 Forbidden\r\n\r\n".utf8), ending: .close)
        defer { responder.stop() }
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: responder.port))
        _ = try await transportFailure {
            _ = try HTTPProxyTransport.open(
                target: Endpoint(host: "::1", port: 5000),
                proxy: proxy,
                deadline: .after(.seconds(5))
            )
        }
        let request = try #require(responder.receivedRequests.first)
        #expect(request.hasPrefix("CONNECT [::1]:5000 HTTP/1.1\r\n"))
        #expect(request.contains("Host: [::1]:5000\r\n"))
    }
}
