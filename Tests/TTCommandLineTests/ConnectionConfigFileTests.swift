import Foundation
import Glibc
import TTTransport
import Testing

@testable import TTCommandLine

@Suite("Config file")
struct ConnectionConfigFileTests {
    @Test("a file saved with CR LF line ends reads as the same file")
    func crlfLineEnds() throws {
        let text =
            "# saved on Windows\r\n[connection prod]\r\nserver = tape.example\r\nport = 5001\r\n\r\n"
            + "[connection lab]\r\nserver = [::1]\r\n"
        let file = try ConnectionConfigFile(parsing: text, path: "t.conf")
        #expect(file.entries.map(\.name) == ["prod", "lab"])
        #expect(try file.entry(named: "prod").server == "tape.example")
        #expect(try file.entry(named: "prod").port == 5001)
        #expect(try file.entry(named: "lab").server == "[::1]")
    }

    @Test("parses named connections with every key")
    func parse() throws {
        let text = """
            # production
            [connection prod]
            server = tape.example
            port = 5001
            proxy = https://proxy.corp:8443
            proxy-auth = NTLM
            proxy-auth-no-basic = yes
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
        #expect(prod.proxyAuthNoBasic == true)
        #expect(try file.entry(named: "lab").proxyAuthNoBasic == nil)
        // The key reaches the proxy the connection uses.
        let decision = try ProxyConfiguration.resolve(
            target: Endpoint(host: "tape.example", port: 5001),
            flags: ProxyFlags(),
            entry: prod,
            environment: [:]
        )
        #expect(decision.proxy?.forbidsBasicInClear == true)
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
            ("[connection a]\nproxy-auth-no-basic = maybe", ":2: proxy-auth-no-basic must be yes or no"),
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

    @Test(
        "a config file is checked on the descriptor that is read: a password others can read is refused, a symlink to a private file is followed, a directory, a FIFO and a dangling link are named"
    )
    func readThroughOneDescriptor() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func load(_ path: String) throws -> ConnectionConfigFile { try ConnectionConfigFile.load(path: path) }

        let withPassword = path("with-password.conf")
        try "[connection a]\nproxy = http://u:Cfg-Secret-8@proxy.example:3128\n".write(
            toFile: withPassword,
            atomically: true,
            encoding: .utf8
        )
        chmod(withPassword, 0o600)
        #expect(try load(withPassword).entries.first?.proxy?.credentials?.password == "Cfg-Secret-8")

        chmod(withPassword, 0o640)
        let readable = try #require(throws: TransportError.self) { try load(withPassword) }
        #expect(readable.category == .configuration)
        #expect(
            readable.message
                == "the config file, which holds a proxy password, \(withPassword) is accessible by other users "
                + "(mode 0640); it must be private: chmod 600 \(withPassword)"
        )
        #expect(!readable.message.contains("Cfg-Secret-8"))

        // Without a password a readable config file is fine (a shared /etc file of connections).
        let plain = path("plain.conf")
        try "[connection a]\nserver = tape.example\n".write(toFile: plain, atomically: true, encoding: .utf8)
        chmod(plain, 0o644)
        #expect(try load(plain).entries.map(\.name) == ["a"])

        // A symlink is followed, and the file it names is the one checked.
        chmod(withPassword, 0o600)
        let link = path("link.conf")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: withPassword)
        #expect(try load(link).entries.count == 1)
        chmod(withPassword, 0o644)
        #expect(throws: TransportError.self) { try load(link) }

        let toDirectory = path("directory.conf")
        try FileManager.default.createSymbolicLink(atPath: toDirectory, withDestinationPath: directory.path)
        let directoryError = try #require(throws: TransportError.self) { try load(toDirectory) }
        #expect(directoryError.message == "the config file \(toDirectory) is not a regular file")

        // A FIFO would block a plain open until a writer came; it is refused at once.
        let fifo = path("fifo.conf")
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = ContinuousClock.now
        let fifoError = try #require(throws: TransportError.self) { try load(fifo) }
        #expect(fifoError.message == "the config file \(fifo) is not a regular file")
        #expect(ContinuousClock.now - started < .seconds(5))

        let dangling = path("dangling.conf")
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: path("gone.conf"))
        let danglingError = try #require(throws: TransportError.self) { try load(dangling) }
        #expect(danglingError.message == "cannot read the config file \(dangling): No such file or directory")
    }
}
