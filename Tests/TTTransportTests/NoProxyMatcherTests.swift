import TTTransport
import Testing

/// Ported from golang.org/x/net/http/httpproxy `proxy_test.go` (`UseProxyTests`, `TestInvalidNoProxy`,
/// `TestAllNoProxy`): every host is checked on port 80.
@Suite("NO_PROXY like Go's httpproxy")
struct NoProxyMatcherTests {
    static let goNoProxy =
        "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, "
        + "2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64"

    static let goCases: [(host: String, usesProxy: Bool)] = [
        ("localhost", false), ("127.0.0.1", false), ("127.0.0.2", false), ("[::1]", false), ("[::2]", true),
        ("192.168.1.1", false), ("192.168.1.2", true), ("192.168.1.3", false), ("192.168.1.4", true),
        ("10.0.0.2", false), ("[2001:db8::52:0:1]", false), ("[2001:db8::52:0:2]", true),
        ("[2001:db8::52:0:3]", false), ("[2002:db8:a::123]", false), ("[fe80::424b:c8be:1643:a1b6]", true),
        ("barbaz.net", true), ("www.barbaz.net", false), ("foobar.com", false), ("www.foobar.com", false),
        ("foofoobar.com", true), ("baz.com", true), ("localhost.net", true), ("local.localhost", true),
        ("barbarbaz.net", true), ("wildcard.io", true), ("nested.wildcard.io", false), ("awildcard.io", true),
    ]

    @Test("Go's UseProxyTests table", arguments: goCases)
    func goTable(_ testCase: (host: String, usesProxy: Bool)) {
        let matcher = NoProxyMatcher(Self.goNoProxy)
        #expect(matcher.usesProxy(host: testCase.host, port: 80) == testCase.usesProxy, "\(testCase.host)")
    }

    @Test("* bypasses the proxy for every host in the table")
    func star() {
        let matcher = NoProxyMatcher("*")
        for testCase in Self.goCases {
            #expect(!matcher.usesProxy(host: testCase.host, port: 80), "\(testCase.host)")
        }
    }

    @Test("an entry without a host (:1) is ignored, as in Go")
    func invalidEntry() {
        #expect(NoProxyMatcher(":1").usesProxy(host: "example.com", port: 80))
    }

    @Test("domain entries with a port match only that port; case and spaces do not matter")
    func ports() {
        let matcher = NoProxyMatcher(" Example.COM:5000 ,, .corp.local ")
        #expect(!matcher.usesProxy(host: "tape.example.com", port: 5000))
        #expect(matcher.usesProxy(host: "tape.example.com", port: 5001))
        #expect(!matcher.usesProxy(host: "EXAMPLE.com", port: 5000))
        #expect(!matcher.usesProxy(host: "vault.corp.local", port: 1))
        #expect(matcher.usesProxy(host: "corp.local", port: 1))
    }

    @Test("a port that is not the target's port as written (https, 080, +80) matches no port, as in Go")
    func portsCompareAsText() {
        for entry in ["intranet.example:https", "intranet.example:080", "intranet.example:+80", "10.1.2.3:https"] {
            let matcher = NoProxyMatcher(entry)
            #expect(matcher.usesProxy(host: "intranet.example", port: 80), "\(entry)")
            #expect(matcher.usesProxy(host: "intranet.example", port: 443), "\(entry)")
            #expect(matcher.usesProxy(host: "10.1.2.3", port: 443), "\(entry)")
        }
        // An empty port is no port (Go's SplitHostPort gives ""): every port.
        #expect(!NoProxyMatcher("intranet.example:").usesProxy(host: "intranet.example", port: 443))
    }

    @Test("a domain entry never matches an IP address target, as in Go and curl")
    func domainEntriesSkipAddresses() {
        let matcher = NoProxyMatcher(".0.0.1, 2.3")
        #expect(matcher.usesProxy(host: "10.0.0.1", port: 80))
        #expect(matcher.usesProxy(host: "1.2.2.3", port: 80))
        #expect(!matcher.usesProxy(host: "host.0.0.1", port: 80))
    }

    @Test("an empty NO_PROXY still keeps loopback targets off the proxy")
    func emptyKeepsLoopbackDirect() {
        let matcher = NoProxyMatcher("")
        #expect(!matcher.usesProxy(host: "127.9.9.9", port: 5000))
        #expect(!matcher.usesProxy(host: "::1", port: 5000))
        #expect(!matcher.usesProxy(host: "LOCALHOST", port: 5000))
        #expect(matcher.usesProxy(host: "tapetrack.example", port: 5000))
    }
}
