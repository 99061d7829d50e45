import Foundation
import TTProtocol
import Testing

@Suite("Server identity and fingerprints")
struct IdentityTests {
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
        try process.run()
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
        try "not a key".write(toFile: garbage, atomically: true, encoding: .utf8)
        #expect(throws: ProtocolError.identityFileInvalid) { try ServerIdentity.load(path: garbage) }
        // A valid PKCS#8 key of another type (X25519) is not an identity.
        let x25519 =
            """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VuBCIEIHDVGQ7XxKT4Bqlmya2Q3r4tE2yIjLU5l9zVDSt9zqVm
            -----END PRIVATE KEY-----

            """
        #expect(throws: ProtocolError.identityFileInvalid) { try ServerIdentity(pemRepresentation: x25519) }
    }

    @Test("The fingerprint is SHA256: and unpadded base64 of SHA-256 over the raw public key")
    func fingerprintFormat() throws {
        let identity = try ServerIdentity(privateKey: Array(repeating: 0, count: 32))
        // RFC 8032 test 1 public key: 3b6a27bc...; its fingerprint computed with sha256sum + base64.
        #expect(
            identity.publicKey.rawRepresentation.hex
                == "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
        )
        let text = identity.fingerprint.description
        #expect(text.hasPrefix("SHA256:") && text.count == 7 + 43 && !text.hasSuffix("="))
        #expect(try IdentityFingerprint(parsing: text) == identity.fingerprint)
        #expect(try IdentityFingerprint(parsing: "  \(text)=\n") == identity.fingerprint)
        #expect(identity.fingerprint.matches(identity.publicKey))
        #expect(!identity.fingerprint.matches(ServerIdentity.generate().publicKey))
        #expect(identity.fingerprint != ServerIdentity.generate().fingerprint)
        #expect(!identity.description.contains(identity.publicKey.rawRepresentation.hex))
    }

    @Test(
        "Strings that are not fingerprints are rejected",
        arguments: [
            "", "SHA256:", "MD5:abcd", "sha256:" + String(repeating: "A", count: 43), "SHA256:!!!!", "SHA256:AAAA",
        ]
    )
    func invalidFingerprints(text: String) {
        #expect(throws: ProtocolError.invalidFingerprint) { try IdentityFingerprint(parsing: text) }
        #expect(IdentityFingerprint(text) == nil)
    }
}

@Suite("Password hashes")
struct PasswordHashTests {
    @Test("A hash verifies its password and no other, and survives its stored form")
    func verify() throws {
        let hash = PasswordHash(hashing: "batch", iterations: 1000)
        #expect(hash.verify("batch"))
        #expect(!hash.verify("Batch"))
        #expect(!hash.verify(""))
        #expect(hash.salt.count == 16 && hash.hash.count == 32)
        let parsed = try PasswordHash(parsing: hash.encoded)
        #expect(parsed == hash && parsed.verify("batch"))
        #expect(hash.encoded.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(PasswordHash(hashing: "batch", iterations: 1000) != hash)  // fresh salt
        #expect(!hash.description.contains(hash.encoded.split(separator: "$")[3]))
    }

    @Test("A stored hash of a published PBKDF2-HMAC-SHA256 vector verifies")
    func knownAnswer() throws {
        // PBKDF2-HMAC-SHA256("password", "salt", 1 iteration, 32 bytes), a widely published vector.
        let stored = "pbkdf2-sha256$1$c2FsdA==$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs="
        let hash = try PasswordHash(parsing: stored)
        #expect(hash.hash.hex == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
        #expect(hash.verify("password"))
        #expect(!hash.verify("passwore"))
    }

    @Test(
        "Malformed stored hashes are rejected without echoing them",
        arguments: [
            "", "batch", "pbkdf2-sha256$0$c2FsdA==$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=",
            "pbkdf2-sha1$1$c2FsdA==$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=", "pbkdf2-sha256$1$$AAAA",
            "pbkdf2-sha256$x$c2FsdA==$Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=", "pbkdf2-sha256$1$c2FsdA==$!!",
        ]
    )
    func malformed(text: String) {
        let error = #expect(throws: ProtocolError.invalidPasswordHash) { try PasswordHash(parsing: text) }
        #expect(error?.description.contains("batch") == false)
    }
}
