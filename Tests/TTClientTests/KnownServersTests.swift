import Foundation
import Testing
import TTClient

@Suite("Known-servers file")
struct KnownServersTests {
    private func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("known-\(UUID())/known_servers").path
    }

    @Test("a remembered fingerprint is found again, per host:port, and the file is private")
    func remembers() throws {
        let file = KnownServers(path: temporaryFile())
        #expect(try file.fingerprint(for: "host:5000") == nil)
        try file.remember("host:5000", fingerprint: "SHA256:abc")
        try file.remember("[::1]:5000", fingerprint: "SHA256:def")
        #expect(try file.fingerprint(for: "host:5000") == "SHA256:abc")
        #expect(try file.fingerprint(for: "[::1]:5000") == "SHA256:def")
        #expect(try file.fingerprint(for: "host:5001") == nil)
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("a malformed line is reported with its line number")
    func malformed() throws {
        let path = temporaryFile()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try "# comment\n\nhost:5000 MD5:xyz\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: KnownServersError.unreadable(path: path, line: 3)) {
            try KnownServers(path: path).fingerprint(for: "host:5000")
        }
    }
}
