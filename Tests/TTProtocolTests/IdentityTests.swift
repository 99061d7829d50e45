import Foundation
import TTProtocol
import Testing

@Suite("Server identity and fingerprints")
struct IdentityTests {
    @Test("A valid PKCS#8 key of another type (X25519) is not an identity; garbage is not either")
    func invalidPEM() {
        let x25519 =
            """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VuBCIEIHDVGQ7XxKT4Bqlmya2Q3r4tE2yIjLU5l9zVDSt9zqVm
            -----END PRIVATE KEY-----

            """
        #expect(throws: ProtocolError.identityFileInvalid) { try ServerIdentity(pemRepresentation: x25519) }
        #expect(throws: ProtocolError.identityFileInvalid) { try ServerIdentity(pemRepresentation: "not a key") }
    }

    @Test("The PEM form round-trips to the same identity")
    func pemRoundTrip() throws {
        let identity = ServerIdentity.generate()
        let pem = try identity.pemRepresentation()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(try ServerIdentity(pemRepresentation: pem).publicKey == identity.publicKey)
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
