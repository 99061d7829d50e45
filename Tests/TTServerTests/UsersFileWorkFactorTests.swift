import TTProtocol
import Testing

@testable import TTServer

/// A users file sets what each password check costs: a line asking for hours of PBKDF2 must be refused when the
/// file is read, not paid for by every Login that names its user (or an unknown one, which costs as much).
@Suite("Users file work factor")
struct UsersFileWorkFactorTests {
    /// 16 bytes of salt and 32 of hash, base64.
    static let salt = "AAAAAAAAAAAAAAAAAAAAAA=="
    static let hash32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    @Test(
        "A hash over 10,000,000 iterations or 64 bytes is refused, naming the line and what is too costly",
        arguments: [
            ("pbkdf2-sha256$2147483647$\(salt)$\(hash32)", "2147483647 iterations, at most 10000000"),
            ("pbkdf2-sha256$10000001$\(salt)$\(hash32)", "10000001 iterations"),
            (
                "pbkdf2-sha256$1000$\(salt)$\(String(repeating: "AAAA", count: 1024))",
                "a hash of 3072 bytes, at most 64"
            ),
        ]
    )
    func refused(stored: String, problem: String) {
        let text = "# accounts\nalice:\(PasswordHash(hashing: "pw", iterations: 10).encoded)\nslow:\(stored)\n"
        let error = #expect(throws: UsersFileError.self) { try UserDirectory(parsing: text, source: "/etc/u") }
        #expect(error?.line == 3)
        #expect(
            error?.description.contains("'slow' would make every login too slow") == true,
            "\(String(describing: error))"
        )
        #expect(error?.description.contains(problem) == true, "\(String(describing: error))")
        #expect(error?.description.contains(Self.hash32) == false)
    }

    @Test("10,000,000 iterations and a 64-byte hash are still accepted")
    func largestAccepted() throws {
        let hash64 = String(repeating: "AAAA", count: 21) + "AA=="
        let users = try UserDirectory(
            parsing: "a:pbkdf2-sha256$10000000$\(Self.salt)$\(Self.hash32)\nb:pbkdf2-sha256$1$\(Self.salt)$\(hash64)\n",
            source: "u"
        )
        #expect(users.userNames == ["a", "b"])
        #expect(try PasswordHash(parsing: "pbkdf2-sha256$1$\(Self.salt)$\(hash64)").hash.count == 64)
    }
}
