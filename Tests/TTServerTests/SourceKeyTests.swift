import TTPasswordChecks
import Testing

@Suite("Fairness keys: an IPv6 /64 is one source, as one IPv4 address is")
struct SourceKeyTests {
    @Test(
        "addresses map to their key",
        arguments: [
            ("192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
            ("::ffff:198.51.100.9", "198.51.100.9"),
            ("not-an-address", "not-an-address"),
        ]
    )
    func keys(address: String, key: String) {
        #expect(SourceKey.of(host: address) == key)
    }

    @Test("two hosts of one /64 share a key; the next /64 does not")
    func prefixes() {
        #expect(SourceKey.of(host: "2001:db8::1") == SourceKey.of(host: "2001:db8::ffff:1"))
        #expect(SourceKey.of(host: "2001:db8::1") != SourceKey.of(host: "2001:db8:0:1::1"))
    }
}
