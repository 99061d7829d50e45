import Foundation
import TTTestSupport
import Testing

/// Hosts that once reached another port than the one typed (issue 18): every way a server is named refuses them
/// with exit 2 naming the character, and a listener on the port typed records that nothing was dialled.
@Suite("tt-connect refuses odd hosts before dialling")
struct OddHostTests {
    static let cases: [(host: String, named: String)] = [
        ("127.0.0.1#x", "'#'"), ("127.0.0.1/x", "'/'"), ("127.0.0.1?x", "'?'"), ("127.0.0.1 x", "a space"),
        ("127.0.0.1\\x", "'\\'"),
    ]

    @Test("-S user:password@HOST:PORT and positional HOST:PORT: exit 2, the character named, nothing dialled")
    func logonStringAndPositional() async throws {
        let home = try TemporaryDirectory()
        let listener = try RecordingListener()
        for (host, named) in Self.cases {
            for arguments in [["-S", "bob:-pw@\(host):\(listener.port)"], ["\(host):\(listener.port)"]] {
                let result = try await tool(["--timeout", "2"] + arguments, home: home)
                #expect(result.status == 2, "\(arguments): \(result.allOutput)")
                #expect(result.standardError.contains("the host contains \(named)"), "\(result.standardError)")
                #expect(!result.allOutput.contains("pw@"))
            }
        }
        #expect(listener.takeConnections() == 0)
    }

    @Test("through a proxy, -S with a host holding '/' never reaches the proxy")
    func throughProxy() async throws {
        let home = try TemporaryDirectory()
        let proxy = try RecordingListener()
        let result = try await tool(
            ["--timeout", "2", "--proxy", "http://127.0.0.1:\(proxy.port)", "-S", "bob:-pw@tapes.invalid/x:5000"],
            home: home
        )
        #expect(result.status == 2, "\(result.allOutput)")
        #expect(result.standardError.contains("'/'"))
        #expect(proxy.takeConnections() == 0)
    }

    @Test("a config file's server with '#' is refused at load, naming the line")
    func configFileServer() async throws {
        let home = try TemporaryDirectory()
        let listener = try RecordingListener()
        let config = home.file("tt.conf")
        try "[connection tapes]\nserver = 127.0.0.1#x\nport = \(listener.port)\n".write(
            toFile: config,
            atomically: true,
            encoding: .utf8
        )
        let result = try await tool(["--timeout", "2", "--config", config, "--connection", "tapes"], home: home)
        #expect(result.status == 2, "\(result.allOutput)")
        #expect(result.standardError.contains("'#'"), "\(result.standardError)")
        #expect(listener.takeConnections() == 0)
    }
}
