import Foundation
import TTClient
import Testing

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

    @Test("a file saved with CR LF line ends is read line by line")
    func crlfLineEnds() throws {
        let path = temporaryFile()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try "# edited on Windows\r\nhost:5000 SHA256:abc\r\n[::1]:5000 SHA256:def\r\n".write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        let file = KnownServers(path: path)
        #expect(try file.fingerprint(for: "host:5000") == "SHA256:abc")
        #expect(try file.fingerprint(for: "[::1]:5000") == "SHA256:def")
    }

    @Test("a malformed line is reported with its line number")
    func malformed() throws {
        let path = temporaryFile()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try "# comment\n\nhost:5000 MD5:xyz\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: KnownServersError.unreadable) {
            try KnownServers(path: path).fingerprint(for: "host:5000")
        }
        #expect(error?.path == path)
        #expect(error?.line == 3)
    }
}

@Suite("Known-servers file fails closed")
struct KnownServersFailClosedTests {
    @Test("a file that exists but cannot be read is an error, never 'no server known'")
    func unreadableFileIsAnError() throws {
        // A directory where the file should be: it exists, and reading it fails.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("known-dir-\(UUID())").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try KnownServers(path: path).fingerprint(for: "host:5000")
        } throws: { error in
            guard let error = error as? KnownServersError, error == .unopenable else { return false }
            return error.path == path
        }
    }

    @Test("a stray non-UTF-8 byte spoils only its own line")
    func invalidBytesFailTheirLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("known-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("known_servers").path
        let bytes = Array("host:5000 SHA256:abc\n".utf8) + [0x23, 0xE9, 0x0A] + Array("other:1 \u{FF}\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let file = KnownServers(path: path)
        #expect(try file.fingerprint(for: "host:5000") == "SHA256:abc")
        let error = #expect(throws: KnownServersError.unreadable) {
            try file.fingerprint(for: "missing:1")
        }
        #expect(error?.line == 3)
    }
}
