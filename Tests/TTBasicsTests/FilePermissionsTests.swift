import Foundation
import TTBasics
import Testing

@Suite("File permissions: secrets private, trust files not replaceable by others")
struct FilePermissionsTests {
    private func scratch(_ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("perm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try chmod(directory.path, 0o700)
        try body(directory)
    }

    private func chmod(_ path: String, _ mode: Int) throws {
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    @Test(
        "a secret file with any group or other permission is refused, naming the file and the chmod fix",
        arguments: [0o644, 0o640, 0o604, 0o666, 0o620]
    )
    func looseSecret(mode: Int) throws {
        try scratch { directory in
            let file = directory.appendingPathComponent("identity.pem").path
            _ = FileManager.default.createFile(atPath: file, contents: Data("k".utf8))
            try chmod(file, mode)
            let refusal = try #require(throws: FilePermissions.Refusal.self) {
                try FilePermissions.checkSecret(file, what: "identity key")
            }
            #expect(refusal.description.contains(file))
            #expect(refusal.description.contains("chmod 600 \(file)"))
            #expect(refusal.description.contains("0" + String(mode, radix: 8)))
        }
    }

    @Test("a private secret file, and a missing one, pass")
    func privateSecret() throws {
        try scratch { directory in
            let file = directory.appendingPathComponent("users").path
            _ = FileManager.default.createFile(atPath: file, contents: Data())
            try chmod(file, 0o600)
            try FilePermissions.checkSecret(file, what: "users file")
            try FilePermissions.checkSecret(directory.appendingPathComponent("absent").path, what: "users file")
        }
    }

    @Test("a trust file in a directory others can write is refused; a sticky shared directory is fine")
    func trustDirectory() throws {
        try scratch { directory in
            let open = directory.appendingPathComponent("open")
            try FileManager.default.createDirectory(at: open, withIntermediateDirectories: false)
            try chmod(open.path, 0o777)
            let file = open.appendingPathComponent("known_servers").path
            let refusal = try #require(throws: FilePermissions.Refusal.self) {
                try FilePermissions.checkTrustFile(file, what: "known-servers file")
            }
            #expect(refusal.description.contains("chmod go-w \(open.path)"))

            try chmod(open.path, 0o1777)
            try FilePermissions.checkTrustFile(file, what: "known-servers file")

            _ = FileManager.default.createFile(atPath: file, contents: Data())
            try chmod(file, 0o666)
            #expect(throws: FilePermissions.Refusal.self) {
                try FilePermissions.checkTrustFile(file, what: "known-servers file")
            }
            try chmod(file, 0o644)
            try FilePermissions.checkTrustFile(file, what: "known-servers file")
        }
    }
}
