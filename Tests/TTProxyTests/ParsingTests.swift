import Testing

@testable import TTProxy

@Suite("Parsing CONNECT targets, port lists and request heads")
struct ParsingTests {
    @Test("host:port and bracketed IPv6 targets parse; malformed ones do not")
    func targets() {
        #expect(ConnectTarget(parsing: "example.com:443") == ConnectTarget(host: "example.com", port: 443))
        #expect(ConnectTarget(parsing: "[::1]:5000") == ConnectTarget(host: "::1", port: 5000))
        #expect(ConnectTarget(parsing: "[::1]:5000")?.description == "[::1]:5000")
        for bad in [
            "example.com", "example.com:", ":443", "::1:443", "[::1]", "[::1]5000", "host:0", "host:65536",
            "host:+80", "host:80x", "ho st:80", "[]:80", "user@host:80",
        ] {
            #expect(ConnectTarget(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("port lists accept single ports and ranges and reject anything else with the item named")
    func portLists() throws {
        let set = try PortSet(parsing: "443, 5000-5010")
        #expect(set.contains(443) && set.contains(5005) && !set.contains(80))
        #expect(set.description == "443,5000-5010")
        #expect(PortSet.all.contains(1) && PortSet.all.contains(65535))
        #expect(throws: PortSetError.self) { try PortSet(parsing: "10-5") }
        do {
            _ = try PortSet(parsing: "443,https")
            Issue.record("expected an error")
        } catch {
            #expect(error.item == "https")
        }
    }
}
