import Testing

@testable import TTTransport

/// The `-v` trace's redaction and the reading of a proxy's own words, line by line.
@Suite("CONNECT trace redaction and proxy error details")
struct ConnectTraceAndErrorDetailsTests {
    @Test(
        "every header carrying a credential keeps its scheme word and loses its value",
        arguments: [
            ("Proxy-Authorization: Basic YWxpY2U6c2VjcmV0", "Proxy-Authorization: Basic <redacted>"),
            (
                "proxy-authorization: Digest username=\"alice\", response=\"0a1b\"",
                "proxy-authorization: Digest <redacted>"
            ),
            (
                "Proxy-Authorization: NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==",
                "Proxy-Authorization: NTLM <redacted>"
            ),
            (
                "Proxy-Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag",
                "Proxy-Authorization: Negotiate <redacted>"
            ),
            ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer <redacted>"),
            ("Proxy-Authenticate: NTLM TlRMTVNTUAACAAAADAAMADgAAAAFgomi", "Proxy-Authenticate: NTLM <redacted>"),
            (
                "Proxy-Authenticate: Negotiate oYG2MIGzoAMKAQGhCwYJKoZIgvcSAQICom",
                "Proxy-Authenticate: Negotiate <redacted>"
            ),
            ("Cookie: session=abcdef", "Cookie: <redacted>"),
            // Challenges without a token and ordinary headers stay as they are.
            ("Proxy-Authenticate: Basic realm=\"corp\"", "Proxy-Authenticate: Basic realm=\"corp\""),
            ("Proxy-Authenticate: NTLM", "Proxy-Authenticate: NTLM"),
            ("Host: tapes.example.com:5000", "Host: tapes.example.com:5000"),
        ]
    )
    func redaction(line: String, shown: String) {
        #expect(ConnectTraceRedaction.header(line[...], password: nil) == shown)
    }

    @Test("the proxy password is scrubbed from any other line, and nothing tells its length")
    func passwordScrubbed() {
        let line = ConnectTraceRedaction.header(
            "X-Debug: user alice pass Sup3r-secret here"[...],
            password: "Sup3r-secret"
        )
        #expect(line == "X-Debug: user alice pass <redacted> here")
        #expect(ConnectTraceRedaction.scrub("a Sup3r-secret b", password: "Sup3r-secret") == "a <redacted> b")
        #expect(
            ConnectTraceRedaction.header("Proxy-Authorization: Basic c2hvcnQ="[...], password: nil)
                == ConnectTraceRedaction.header(
                    "Proxy-Authorization: Basic bG9uZ2VyLXBhc3N3b3JkLXZhbHVl"[...],
                    password: nil
                )
        )
    }

    @Test("squid's headers and page: error name, Via, title; its unreachable names are told from a refusal")
    func squidDetails() {
        let details = ProxyErrorDetails(
            headers: [
                "HTTP/1.1 503 Service Unavailable", "Server: squid/4.13", "X-Squid-Error: ERR_DNS_FAIL 0",
                "Via: 1.1 proxy.corp (squid/4.13)",
            ],
            body: Array("<html><head><TITLE>ERROR: The requested URL could not be retrieved</TITLE></head>".utf8)
        )
        #expect(details.squidError == "ERR_DNS_FAIL")
        #expect(details.via == "1.1 proxy.corp (squid/4.13)")
        #expect(details.pageTitle == "ERROR: The requested URL could not be retrieved")
        #expect(details.saysTargetUnreachable(reason: "Service Unavailable"))
        #expect(
            details.summary
                == "squid: ERR_DNS_FAIL; page \"ERROR: The requested URL could not be retrieved\"; via 1.1 proxy.corp (squid/4.13)"
        )
        for name in ["ERR_CANNOT_FORWARD", "ERR_CONNECT_FAIL", "ERR_READ_TIMEOUT"] {
            #expect(ProxyErrorDetails(squidError: name).saysTargetUnreachable(reason: nil))
        }
        #expect(!ProxyErrorDetails(squidError: "ERR_ACCESS_DENIED").saysTargetUnreachable(reason: "Forbidden"))
    }

    @Test("squid's system error number is told in words; 0, junk and out-of-range numbers are left out")
    func squidSystemError() {
        func summary(_ header: String) -> String {
            ProxyErrorDetails(headers: ["X-Squid-Error: \(header)"], body: []).summary
        }
        #expect(summary("ERR_CONNECT_FAIL 111") == "squid: ERR_CONNECT_FAIL (Connection refused)")
        #expect(summary("ERR_CONNECT_FAIL 110") == "squid: ERR_CONNECT_FAIL (Connection timed out)")
        #expect(summary("ERR_DNS_FAIL 0") == "squid: ERR_DNS_FAIL")
        #expect(summary("ERR_CONNECT_FAIL -5") == "squid: ERR_CONNECT_FAIL")
        #expect(summary("ERR_CONNECT_FAIL 99999999") == "squid: ERR_CONNECT_FAIL")
        #expect(summary("ERR_CONNECT_FAIL x\u{1b}[31m") == "squid: ERR_CONNECT_FAIL")
    }

    @Test("tinyproxy's reason, nginx's markup inside the title, HAProxy's page without a title")
    func otherProxies() {
        #expect(ProxyErrorDetails(headers: [], body: []).saysTargetUnreachable(reason: "Unable to connect"))
        #expect(!ProxyErrorDetails(headers: [], body: []).saysTargetUnreachable(reason: "Internal Server Error"))
        let nginx = ProxyErrorDetails(
            headers: ["Server: nginx/1.22.1"],
            body: Array("<html>\r\n<head><title>502 Bad\r\n Gateway</title></head>".utf8)
        )
        #expect(nginx.pageTitle == "502 Bad Gateway")
        #expect(nginx.summary == "server nginx/1.22.1; page \"502 Bad Gateway\"")
        let haproxy = ProxyErrorDetails(
            headers: [],
            body: Array("<html><body><h1>503 <b>Service</b> Unavailable</h1>\nNo server</body></html>".utf8)
        )
        #expect(haproxy.pageTitle == "503 Service Unavailable")
        #expect(ProxyErrorDetails(headers: ["Via: x"], body: Array("<title></title>".utf8)).pageTitle == nil)
    }
}
