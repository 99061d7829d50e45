import Foundation
import TTProtocol
import Testing

@testable import TTServer

/// Users files saved with `CR LF` line ends (an editor on Windows): Swift reads `"\r\n"` as one `Character`, so
/// splitting at `"\n"` left the whole file one line, and a first line that is a comment hid every user.
@Suite("Users file line ends")
struct UsersFileLineEndTests {
    @Test("A CR LF users file with a comment first yields its users, not none")
    func crlfUsers() throws {
        let alice = PasswordHash(hashing: "one", iterations: 100).encoded
        let bob = PasswordHash(hashing: "two", iterations: 100).encoded
        let users = try UserDirectory(parsing: "# accounts\r\nalice:\(alice)\r\n\r\nbob:\(bob)\r\n", source: "u")
        #expect(users.userNames == ["alice", "bob"])
        #expect(users.verify(user: "alice", password: "one"))
        #expect(users.verify(user: "bob", password: "two"))
    }

    @Test("A bad line of a CR LF users file is named by its own number")
    func crlfLineNumbers() {
        let hash = PasswordHash(hashing: "one", iterations: 100).encoded
        let error = #expect(throws: UsersFileError.self) {
            try UserDirectory(parsing: "alice:\(hash)\r\nbob\r\n", source: "u")
        }
        #expect(error?.line == 2, "\(String(describing: error))")
        #expect(error?.problem.contains("expected NAME:") == true, "\(String(describing: error))")
    }

    @Test("add-user replaces a user of a CR LF file instead of adding the name twice")
    func crlfAddUser() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("users").path
        let alice = PasswordHash(hashing: "one", iterations: 100).encoded
        let bob = PasswordHash(hashing: "two", iterations: 100).encoded
        #expect(
            FileManager.default.createFile(
                atPath: path,
                contents: Data("# accounts\r\nalice:\(alice)\r\nbob:\(bob)\r\n".utf8),
                attributes: [.posixPermissions: 0o600]
            )
        )
        #expect(try !UserDirectory.addUser("alice", password: "three", toFileAt: path, iterations: 100))
        let users = try UserDirectory.load(path: path)
        #expect(users.userNames == ["alice", "bob"])
        #expect(users.verify(user: "alice", password: "three"))
        #expect(users.verify(user: "bob", password: "two"))
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("# accounts\r\n"))
    }
}
