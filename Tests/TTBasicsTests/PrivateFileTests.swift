import Foundation
import TTBasics
import Testing

@Suite("Private files written atomically")
struct PrivateFileTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tt-private-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func mode(_ path: String) -> UInt32 {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_mode & 0o7777 : 0
    }

    @Test("the temporary file is 0600 from its creation, before a byte is written, and never an existing file")
    func temporaryIsPrivateFromTheStart() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (descriptor, temporary) = try PrivateFile.createTemporary(beside: "\(directory)/config")
        defer {
            close(descriptor)
            unlink(temporary)
        }
        var status = stat()
        #expect(fstat(descriptor, &status) == 0)
        #expect(status.st_mode & 0o7777 == 0o600)
        #expect(status.st_size == 0)
        #expect(temporary.hasPrefix("\(directory)/.config.tmp-"))
    }

    @Test("replacing a readable file leaves a 0600 file with exactly the new bytes and no temporary behind")
    func replaceIsPrivateAndComplete() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/config"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
        try PrivateFile.writeAtomically(Array("new contents\n".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new contents\n")
        #expect(Self.mode(path) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["config"])
    }

    @Test("missing directories are created 0700")
    func createsPrivateDirectories() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/a/b/config"
        try PrivateFile.writeAtomically(Array("x".utf8), to: path)
        #expect(Self.mode("\(directory)/a/b") == 0o700)
        #expect(Self.mode(path) == 0o600)
    }
}
