import Foundation
import Synchronization
import TTBasics
import TTTestSupport
import Testing

@testable import TTTransport

/// What goes into the CONNECT request besides the target: the proxy user name (Digest quotes it in a header),
/// the extra header lines and the User-Agent. None may carry a line break into the request.
@Suite("CONNECT request inputs")
struct ConnectRequestInputTests {
    static let target = Endpoint(host: "127.0.0.1", port: 5000)
    static let digestChallenge = Array(
        ("HTTP/1.1 407 Proxy Authentication Required\r\n"
            + "Proxy-Authenticate: Digest realm=\"x\", nonce=\"abc\", qop=\"auth\"\r\nContent-Length: 0\r\n\r\n").utf8
    )

    @Test("a proxy user name with CR LF (a percent-encoded URL, a config file) is refused, never sent as a header")
    func userNameWithLineBreak() async throws {
        let responder = try CannedResponder(reply: Self.digestChallenge, ending: .keepAnswering)
        defer { responder.stop() }
        // HTTPS_PROXY=http://alice%0D%0AX-Injected%3A%20yes:secret@proxy decodes to this user name.
        let proxy = try HTTPProxy(parsing: "http://alice%0D%0AX-Injected%3A%20yes:secret@127.0.0.1:\(responder.port)")
        #expect(proxy.credentials?.user == "alice\r\nX-Injected: yes")
        let digest = HTTPProxy(endpoint: proxy.endpoint, credentials: proxy.credentials, authScheme: .digest)
        let error = try await transportFailure {
            _ = try HTTPProxyTransport.open(target: Self.target, proxy: digest, deadline: .after(.seconds(5)))
        }
        let heads = responder.receivedRequests
        #expect(!heads.contains { $0.contains("\r\nX-Injected: yes") }, "\(heads)")
        #expect(error.category == .configuration, "\(error)")
        #expect(error.message.contains("the proxy user name \"alice\\r\\nX-Injected: yes\" contains a control"))
        #expect(heads.isEmpty, "nothing goes to the proxy: \(heads)")
    }

    @Test("an extra header line or User-Agent of a library caller with CR LF is refused, its value not shown")
    func headerWithLineBreak() async throws {
        let responder = try CannedResponder(reply: Array("HTTP/1.1 403 Forbidden\r\n\r\n".utf8), ending: .close)
        defer { responder.stop() }
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: responder.port))
        for options in [
            HTTPProxyOptions(extraHeaders: ["X-Token: t0k3n\r\nX-Injected: yes"]),
            HTTPProxyOptions(userAgent: "agent/1\r\nX-Injected: yes"),
        ] {
            let error = try await transportFailure {
                _ = try HTTPProxyTransport.open(
                    target: Self.target,
                    proxy: proxy,
                    options: options,
                    deadline: .after(.seconds(5))
                )
            }
            #expect(error.category == .configuration, "\(error)")
            #expect(!error.message.contains("t0k3n"), "\(error.message)")
        }
        let heads = responder.receivedRequests
        #expect(!heads.contains { $0.contains("\r\nX-Injected: yes") }, "\(heads)")
        #expect(heads.isEmpty, "nothing goes to the proxy: \(heads)")
    }

    @Test("the -v trace shows an extra header's name, never its value (it may be a token); the proxy gets it")
    func extraHeaderRedactedInTrace() async throws {
        let responder = try CannedResponder(reply: Array("HTTP/1.1 403 Forbidden\r\n\r\n".utf8), ending: .close)
        defer { responder.stop() }
        let proxy = HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: responder.port))
        let lines = Mutex<[String]>([])
        var options = HTTPProxyOptions(extraHeaders: ["X-Auth-Token: t0k3n-42", "X-Trace:  tr4ce-77"])
        options.exchangeTrace = ConnectExchangeTrace(level: .full) { line in lines.withLock { $0.append(line) } }
        let traced = options
        _ = try await transportFailure {
            _ = try HTTPProxyTransport.open(
                target: Self.target,
                proxy: proxy,
                options: traced,
                deadline: .after(.seconds(5))
            )
        }
        #expect(responder.receivedRequests.first?.contains("\r\nX-Auth-Token: t0k3n-42\r\n") == true)
        let shown = lines.withLock { $0 }
        #expect(shown.contains("> X-Auth-Token: <redacted>"), "\(shown)")
        #expect(shown.contains("> X-Trace: <redacted>"), "\(shown)")
        #expect(shown.contains("> User-Agent: tt-connect/\(TTConnectVersion.current)"), "\(shown)")
        #expect(!shown.contains { $0.contains("t0k3n") || $0.contains("tr4ce") }, "\(shown)")
    }

    @Test("a library caller's proxy endpoint is checked as a target is: a host that reads as another one is refused")
    func proxyEndpointValidated() async throws {
        let responder = try CannedResponder(reply: Array("HTTP/1.1 403 Forbidden\r\n\r\n".utf8), ending: .close)
        defer { responder.stop() }
        // None of these names the responder's host, but as a URL each one is 127.0.0.1 (a fragment, a path,
        // user information): the port is the responder's.
        for host in ["127.0.0.1#.corp.example", "127.0.0.1/.corp.example", "corp.example@127.0.0.1"] {
            let proxy = HTTPProxy(endpoint: Endpoint(host: host, port: responder.port))
            let error = try await transportFailure {
                _ = try HTTPProxyTransport.open(target: Self.target, proxy: proxy, deadline: .after(.seconds(5)))
            }
            #expect(error.category == .configuration, "\(host): \(error)")
            #expect(error.message.hasPrefix("proxy '"), "\(error.message)")
        }
        let heads = responder.receivedRequests
        #expect(heads.isEmpty, "nothing goes to a place the endpoint does not name: \(heads)")
    }
}
