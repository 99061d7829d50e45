import TTTransport
import Testing

@testable import TTCommandLine

/// `--noproxy LIST` as curl reads it.
@Suite("curl's --noproxy list")
struct CurlNoProxyListTests {
    @Test(
        "names match themselves and their subdomains, IPs match exactly, * matches all, loopback is not special",
        arguments: [
            ("example.com", "example.com", true), ("example.com", "tapes.example.com", true),
            (".example.com", "tapes.example.com", true), ("example.com", "badexample.com", false),
            ("EXAMPLE.com", "Tapes.Example.COM", true), ("a.test, 10.1.2.3", "10.1.2.3", true),
            ("10.1.2.3", "10.1.2.30", false), ("::1", "::1", true), ("[::1]", "::1", true),
            ("*", "anything.example", true), ("example.com", "127.0.0.1", false), ("", "example.com", false),
            // CIDR blocks, as curl 7.86 takes them (issue 22: 127.0.0.0/8 used to match nothing).
            ("127.0.0.0/8", "127.0.0.5", true), ("10.0.0.0/8", "11.0.0.1", false),
            ("2001:db8::/32", "2001:db8::1", true), ("2001:db8::/32", "2001:db9::1", false),
            ("127.0.0.0/8", "localhost", false),
        ]
    )
    func matching(list: String, host: String, direct: Bool) {
        #expect(CurlNoProxyList(list).matches(Endpoint(host: host, port: 5000)) == direct)
    }
}
