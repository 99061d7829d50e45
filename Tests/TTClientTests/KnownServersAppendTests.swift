import Foundation
import TTClient
import Testing

@Suite("Known-servers file: appending to a hand-edited file")
struct KnownServersAppendTests {
    @Test("a file whose last line has no line break keeps every entry readable after a new one is remembered")
    func appendsAfterAMissingLineBreak() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("known-append-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("known_servers").path
        // As `printf` or an editor that does not end files with a line break leaves it.
        #expect(
            FileManager.default.createFile(
                atPath: path,
                contents: Data("old:5000 SHA256:abc".utf8),
                attributes: [.posixPermissions: 0o600]
            )
        )
        let known = KnownServers(path: path)
        try known.remember("new:5000", fingerprint: "SHA256:def")
        #expect(try known.fingerprint(for: "old:5000") == "SHA256:abc")
        #expect(try known.fingerprint(for: "new:5000") == "SHA256:def")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old:5000 SHA256:abc\nnew:5000 SHA256:def\n")
    }
}
