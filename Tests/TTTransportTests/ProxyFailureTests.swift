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
            name: "403 Forbidden", reply: http("HTTP/1.1 403 Forbidden\r\nContent-Type: text/html", body: html),
            ending: .close, category: .proxyRefused, stage: .proxyTunnel, status: 403, libcurlCode: 56,
            messageContains: "refused the tunnel"
        ),
        Case(
            name: "405 Method Not Allowed", reply: http("HTTP/1.1 405 Method Not Allowed", body: html),
            ending: .close, category: .proxyRefused, stage: .proxyTunnel, status: 405, libcurlCode: 56,
            messageContains: "does not allow CONNECT"
        ),
        Case(
            name: "502 Bad Gateway", reply: http("HTTP/1.1 502 Bad Gateway", body: html),
            ending: .close, category: .proxyGatewayFailure, stage: .proxyTunnel, status: 502, libcurlCode: 56,
            messageContains: "could not reach the server"
        ),
        Case(
            name: "503 Service Unavailable", reply: http("HTTP/1.1 503 Service Unavailable", body: html),
            ending: .close, category: .proxyGatewayFailure, stage: .proxyTunnel, status: 503, libcurlCode: 56,
            messageContains: "could not reach the server"
        ),
        Case(
            name: "504 Gateway Timeout", reply: http("HTTP/1.0 504 Gateway Timeout", body: html),
            ending: .holdOpen, category: .proxyGatewayFailure, stage: .proxyTunnel, status: 504, libcurlCode: 56,
            messageContains: "504 Gateway Timeout"
        ),
        Case(
            name: "garbage", reply: Array("SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n".utf8),
            ending: .close, category: .proxyProtocolViolation, stage: .proxyTunnel, status: nil, libcurlCode: 56,
            messageContains: "not HTTP"
        ),
        Case(
            name: "TLS alert record", reply: [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
            ending: .close, category: .proxyProtocolViolation, stage: .proxyTunnel, status: nil, libcurlCode: 56,
            messageContains: "use https://"
        ),
        Case(
            name: "empty reply", reply: [], ending: .close, category: .proxyProtocolViolation, stage: .proxyTunnel,
            status: nil, libcurlCode: 56, messageContains: "empty or cut-off reply"
        ),
        Case(
            name: "reset", reply: [], ending: .reset, category: .proxyProtocolViolation, stage: .proxyTunnel,
            status: nil, libcurlCode: 56, messageContains: "reset the connection"
        ),
        Case(
            name: "oversized headers (2000 lines)",
            reply: Array(("HTTP/1.1 200 OK\r\n" + (0..<2000).map { "X-Filler-\($0): \(String(repeating: "a", count: 40))\r\n" }.joined() + "\r\n").utf8),
            ending: .close, category: .proxyProtocolViolation, stage: .proxyTunnel, status: 200, libcurlCode: 0,
            messageContains: "too large"
        ),
        Case(
            name: "one oversized header line",
            reply: Array(("HTTP/1.1 200 OK\r\nX-Filler: " + String(repeating: "a", count: 20000) + "\r\n\r\n").utf8),
            ending: .close, category: .proxyProtocolViolation, stage: .proxyTunnel, status: 200, libcurlCode: 56,
            messageContains: "too large"
        ),
        Case(
            name: "TLS alert record after newline", reply: [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46, 0x0d, 0x0a],
            ending: .close, category: .proxyProtocolViolation, stage: .proxyTunnel, status: nil, libcurlCode: 56,
            messageContains: "answered with TLS"
        ),
    ]

    @Test("a proxy's failure answer maps to its category, stage and status", arguments: cases)
    func failureAnswer(_ testCase: Case) async throws {
        let responder = try CannedResponder(reply: testCase.reply, ending: testCase.ending)
        defer { responder.stop() }
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: responder.port))
        let error = try await onThread {
            do {
                _ = try HTTPProxyTransport.open(
                    target: Endpoint(host: "127.0.0.1", port: 5000), proxy: proxy, deadline: .after(.seconds(10))
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
    }
}
