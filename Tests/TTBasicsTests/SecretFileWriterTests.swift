import Foundation
import TTBasics
import Testing

@Suite("Secret files: written private from the first byte, checked on the descriptor that is read")
struct SecretFileWriterTests {
    private func scratch(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory.path)
    }

    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    private func entries(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    @Test("replace turns a world-readable file into a private one, atomically, leaving no temporary behind")
    func replaceMakesPrivate() throws {
        try scratch { (directory: String) throws in
            let path = "\(directory)/users"
            _ = FileManager.default.createFile(
                atPath: path,
                contents: Data("old\n".utf8),
                attributes: [
                    .posixPermissions: 0o644
                ]
            )
            try SecretFileWriter.replace(path, with: Array("new\n".utf8))
            #expect(try mode(path) == 0o600)
            #expect(FileManager.default.contents(atPath: path) == Data("new\n".utf8))
            #expect(try entries(directory) == ["users"])
        }
    }

    @Test("create never replaces an existing file and reports that it was there")
    func createIsExclusive() throws {
        try scratch { (directory: String) throws in
            let path = "\(directory)/identity.pem"
            #expect(try SecretFileWriter.create(path, with: Array("first".utf8)))
            #expect(try mode(path) == 0o600)
            #expect(try !SecretFileWriter.create(path, with: Array("second".utf8)))
            #expect(FileManager.default.contents(atPath: path) == Data("first".utf8))
            #expect(try entries(directory) == ["identity.pem"])
        }
    }

    @Test("a write into a missing directory fails with a message naming the file")
    func missingDirectory() throws {
        let path = "/nonexistent-\(UUID().uuidString)/users"
        let failure = try #require(throws: SecretFileWriter.Failure.self) {
            try SecretFileWriter.replace(path, with: Array("x".utf8))
        }
        #expect(failure.description.contains(path))
    }

    @Test("readSecret reads a private file, returns nil for a missing one, and refuses an open one")
    func readSecret() throws {
        try scratch { (directory: String) throws in
            let path = "\(directory)/key"
            try SecretFileWriter.replace(path, with: Array("s3cr3t-content".utf8))
            #expect(try FilePermissions.readSecret(path, what: "TLS key") == Array("s3cr3t-content".utf8))
            #expect(try FilePermissions.readSecret("\(directory)/absent", what: "TLS key") == nil)
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
            let refusal = try #require(throws: FilePermissions.Refusal.self) {
                try FilePermissions.readSecret(path, what: "TLS key")
            }
            #expect(refusal.description.contains("chmod 600 \(path)"))
            #expect(!refusal.description.contains("s3cr3t"))
        }
    }

    @Test("readSecret refuses a FIFO without blocking, and a file over its limit")
    func readSecretBounds() throws {
        try scratch { (directory: String) throws in
            let fifo = "\(directory)/fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            let notRegular = try #require(throws: FilePermissions.Refusal.self) {
                try FilePermissions.readSecret(fifo, what: "users file")
            }
            #expect(notRegular.description.contains("not a regular file"))
            let big = "\(directory)/big"
            try SecretFileWriter.replace(big, with: [UInt8](repeating: 0x41, count: 5000))
            let tooLarge = try #require(throws: FilePermissions.Refusal.self) {
                try FilePermissions.readSecret(big, what: "users file", limit: 4096)
            }
            #expect(tooLarge.description.contains("larger than 4096 bytes"))
        }
    }
}
