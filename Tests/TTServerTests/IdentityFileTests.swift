import Foundation
import TTBasics
import TTProtocol
import TTServer
import TTTestSupport
import Testing

/// The identity key file, read and written by TTServer (TTProtocol does no I/O).
@Suite("Server identity key file")
struct IdentityFileTests {
    private func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tt-identity-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("loadOrCreate writes a PKCS#8 PEM with mode 0600 and loads the same identity afterwards")
    func createAndLoad() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("identity.pem").path
        let created = try ServerIdentity.loadOrCreate(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let pem = try String(contentsOfFile: path, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(try ServerIdentity.loadOrCreate(path: path).publicKey == created.publicKey)
        #expect(try ServerIdentity.load(path: path).fingerprint == created.fingerprint)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["identity.pem"])
    }

    @Test("openssl reads the identity file as an ED25519 private key with the same public key")
    func opensslReadsIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("identity.pem").path
        let identity = try ServerIdentity.loadOrCreate(path: path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["pkey", "-in", path, "-pubout", "-outform", "DER"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try runWithNoSignalBlocked(process)
        let der = [UInt8](pipe.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // SubjectPublicKeyInfo for Ed25519 is a 12-byte prefix and the 32 raw bytes.
        #expect(Array(der.suffix(32)) == identity.publicKey.rawRepresentation)
    }

    @Test("write(toPath:) never replaces an existing file")
    func noOverwrite() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("identity.pem").path
        try ServerIdentity.generate().write(toPath: path)
        #expect(throws: ProtocolError.identityFileUnwritable) { try ServerIdentity.generate().write(toPath: path) }
    }

    @Test("Missing, unwritable and invalid identity files give specific errors that name the path")
    func fileErrors() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.pem").path
        let error = #expect(throws: ProtocolError.identityFileUnreadable) { try ServerIdentity.load(path: missing) }
        #expect(error?.description.contains(missing) == true)
        #expect(error?.kind == .identity)
        #expect(throws: ProtocolError.identityFileUnwritable) {
            try ServerIdentity.loadOrCreate(path: directory.appendingPathComponent("no/such/dir/id.pem").path)
        }
        let garbage = directory.appendingPathComponent("garbage.pem").path
        try SecretFileWriter.replace(garbage, with: Array("not a key".utf8))
        #expect(throws: ProtocolError.identityFileInvalid) { try ServerIdentity.load(path: garbage) }
    }
}
