import Foundation
import TTTestSupport
import TTTransport
import Testing

@testable import TTCommandLine

@Suite("Writing the config file from two tools at once")
struct ConfigConcurrentWriteTests {
    @Test("connections saved at the same time by two writers are all kept: neither rewrite loses the other's")
    func concurrentSavesKeepEverySection() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("config-race-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config").path
        // Two `--save-connection` (or `setup`) runs: each reads the file, adds its section, replaces the file.
        let rounds = 15
        async let first: Void = runBlocking {
            for round in 0..<rounds { try Self.save("first-\(round)", to: path) }
        }
        async let second: Void = runBlocking {
            for round in 0..<rounds { try Self.save("second-\(round)", to: path) }
        }
        _ = try await (first, second)

        let text = try String(contentsOfFile: path, encoding: .utf8)
        let file = try ConnectionConfigFile(parsing: text, path: path)
        var missing: [String] = []
        for writer in ["first", "second"] {
            for round in 0..<rounds where (try? file.entry(named: "\(writer)-\(round)")) == nil {
                missing.append("\(writer)-\(round)")
            }
        }
        #expect(missing.isEmpty, "lost: \(missing)")
    }

    private static func save(_ name: String, to path: String) throws {
        var entry = ConnectionEntry(name: name)
        entry.server = "\(name).example"
        entry.port = 6000
        try ConnectionConfigWriter.save(entry, to: path)
    }
}
