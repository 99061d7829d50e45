import Foundation
import TTTransport
import Testing

@testable import TTCommandLine

@Suite("Config file")
struct ConnectionConfigFileTests {
    @Test("parses named connections with every key")
    func parse() throws {
        let text = """
            # production
            [connection prod]
            server = tape.example
            port = 5001
            proxy = https://proxy.corp:8443
            proxy-auth = NTLM
            proxy-user = CORP\\bob:pa:ss
            server-key = SHA256:abcdef

            ; lab
            [connection lab]
            server = [::1]
            """
        let file = try ConnectionConfigFile(parsing: text, path: "/etc/tt.conf")
        #expect(file.entries.map(\.name) == ["prod", "lab"])
        let prod = try file.entry(named: "prod")
        #expect(prod.server == "tape.example")
        #expect(prod.port == 5001)
        #expect(prod.proxy?.url == "https://proxy.corp:8443")
        #expect(prod.proxyAuth == .ntlm)
        #expect(prod.proxyCredentials == ProxyCredentials(user: "CORP\\bob", password: "pa:ss"))
        #expect(prod.serverKey == "SHA256:abcdef")
        #expect(try file.entry(named: "lab").server == "[::1]")
    }

    @Test(
        "errors name file:line",
        arguments: [
            ("server = x", ":1: \"server\" comes before any [connection NAME] section"),
            ("[connection a]\nport = 70000", ":2: port must be a number"),
            ("[connection a]\nproxy-auth = kerberos", ":2: proxy-auth must be any, basic"),
            ("[connection a]\n\ncolour = blue", ":3: unknown key \"colour\""),
            ("[connection a]\nproxy = socks5://p", ":2: unsupported proxy scheme"),
            ("[server a]", ":1: expected a section header [connection NAME]"),
            ("[connection a]\n[connection a]", ":2: connection \"a\" is defined twice"),
            ("[connection a]\njust words", ":2: expected KEY = VALUE"),
            ("[connection a]\nserver-key = MD5:xx", ":2: server-key must be a SHA256:"),
            ("[connection a\n", ":1: a section header must end"),
        ]
    )
    func errors(_ text: String, _ expected: String) throws {
        let error = try #require(throws: TransportError.self) {
            try ConnectionConfigFile(parsing: text, path: "t.conf")
        }
        #expect(error.category == .configuration)
        #expect(error.message.hasPrefix("t.conf"))
        #expect(error.message.contains(expected), "\(error.message)")
    }

    @Test("a proxy password in a bad config line never shows up in the error")
    func secretInBadLine() throws {
        let error = try #require(throws: TransportError.self) {
            try ConnectionConfigFile(parsing: "[connection a]\nproxy = http://u:Cfg-Secret-7@p:0", path: "t.conf")
        }
        #expect(!error.message.contains("Cfg-Secret-7"))
    }

    @Test("an unknown connection name lists the known ones; a missing file names its path")
    func lookups() throws {
        let file = try ConnectionConfigFile(parsing: "[connection a]\n[connection b]", path: "t.conf")
        let error = try #require(throws: TransportError.self) { try file.entry(named: "c") }
        #expect(error.message == "no connection \"c\" in t.conf (it defines: a, b)")
        let missing = try #require(throws: TransportError.self) {
            try ConnectionConfigFile.load(path: "/nonexistent/tt.conf")
        }
        #expect(missing.message.contains("/nonexistent/tt.conf"))
        #expect(missing.category == .configuration)
    }
}
