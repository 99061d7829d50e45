import Foundation
import Glibc
import TTTestSupport
import Testing

@testable import TTTransport

/// Hostile or careless PAC inputs: a location with a password, a file that is no file, an answer full of junk.
@Suite("PAC inputs")
struct PacInputTests {
    static let target = Endpoint(host: "intranet.example", port: 5000)

    @Test("a PAC URL's password is sent to the server but never shown: not in errors, the source or the reason")
    func urlPasswordRedacted() async throws {
        let missing = try CannedResponder(reply: Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
        defer { missing.stop() }
        let missingURL = "http://pacuser:s3cr%40t@127.0.0.1:\(missing.port)/proxy.pac"
        let error = try await transportFailure {
            _ = try ProxyAutoConfig.resolve(location: missingURL, target: Self.target, deadline: .after(.seconds(10)))
        }
        #expect(error.message.contains("the server answered HTTP 404"), "\(error.message)")
        #expect(!error.message.contains("s3cr"), "\(error.message)")
        #expect(error.message.contains("http://pacuser:<redacted>@127.0.0.1:\(missing.port)/proxy.pac"))
        // The credentials still went to the server: only what is shown is redacted.
        #expect(missing.receivedRequests.first?.contains("Authorization: Basic cGFjdXNlcjpzM2NyQHQ=") == true)

        let script = "function FindProxyForURL(url, host) { return \"PROXY 127.0.0.1:3128\"; }"
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: \(script.utf8.count)\r\n\r\n\(script)".utf8)
        let server = try CannedResponder(reply: reply)
        defer { server.stop() }
        let url = "http://pacuser:s3cret@127.0.0.1:\(server.port)/proxy.pac"
        let pac = try await onThread {
            try ProxyAutoConfig.resolve(location: url, target: Self.target, deadline: .after(.seconds(10)))
        }
        #expect(pac.source == "http://pacuser:<redacted>@127.0.0.1:\(server.port)/proxy.pac")
        #expect(pac.location == url)
        var pacFlags = ProxyFlags()
        pacFlags.proxyPac = url
        let flags = pacFlags
        let decision = try await onThread {
            try ProxyConfiguration.resolve(target: Self.target, flags: flags, environment: [:])
        }
        #expect(!decision.reason.contains("s3cret"), "\(decision.reason)")
        #expect(decision.autoConfig?.pac.location == url)
    }
}
