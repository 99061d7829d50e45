import Foundation
import Glibc
import TTTestSupport
import Testing

/// `--auth-file` and `--scenario` name files the proxy reads whole at start: only regular files of bounded size,
/// so a FIFO does not block the start forever and a device (`/dev/zero`) is not read until memory runs out.
@Suite("tt-proxy's input files")
struct InputFileTests {
    @Test(
        "a FIFO as --auth-file or --scenario is refused with exit 2 at once",
        arguments: ["--auth-file", "--scenario"]
    )
    func fifoRefused(flag: String) async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tt-proxy-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("input").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let result = try await runProcess(
            CommandLineTests.binary,
            ["--listen", "127.0.0.1:0", flag, fifo],
            timeout: .seconds(10)
        )
        #expect(result.status == 2)
        #expect(result.standardError.contains("\(fifo) is not a regular file"), "\(result.standardError)")
    }
}
