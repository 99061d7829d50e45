import Foundation
import TTTestSupport
import Testing

/// A hostile PAC script through the command line (issue 18): `--timeout` bounds it, exit 12 names the PAC.
@Suite("tt-connect with a hostile PAC script")
struct HostilePacTests {
    @Test("an endless FindProxyForURL with --timeout 2 ends in about 2 s with exit 12 naming the PAC")
    func endlessLoop() async throws {
        let home = try TemporaryDirectory()
        let pac = home.file("loop.pac")
        try "function FindProxyForURL(u, h) { while (true) {} }".write(toFile: pac, atomically: true, encoding: .utf8)
        let result = try await tool(
            ["--timeout", "2", "--proxy-pac", pac, "127.0.0.1:\(try closedPort())"],
            home: home
        )
        #expect(result.status == 12, "\(result.allOutput)")
        #expect(result.standardError.contains("loop.pac"), "\(result.standardError)")
        #expect(result.elapsed < .seconds(8), "\(result.elapsed)")
    }
}
