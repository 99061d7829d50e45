import Foundation
import TTProtocol
import TTServer
import Testing

@Suite("Listen addresses and users file")
struct ConfigurationTests {
    @Test(
        "Listen addresses parse IPv4, bracketed IPv6, names and default ports",
        arguments: [
            ("127.0.0.1:5000", "127.0.0.1", 5000), ("[::1]:0", "::1", 0), ("[::]", "::", 5000),
            ("localhost", "localhost", 5000), ("0.0.0.0:65535", "0.0.0.0", 65535),
        ]
    )
    func listenAddress(text: String, host: String, port: Int) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test(
        "Bad listen addresses say what is wrong",
        arguments: [
            ("::1:5000", "brackets"), ("[::1:5000", "missing ']'"), ("[::1]5000", "':PORT'"),
            (":5000", "host is empty"), ("host:70000", "0 to 65535"), ("host:x", "0 to 65535"),
        ]
    )
    func badListenAddress(text: String, problem: String) {
        let error = #expect(throws: ListenAddressError.self) { try ListenAddress(parsing: text) }
        #expect(error?.description.contains(problem) == true, "\(String(describing: error))")
        #expect(error?.description.contains(text) == true)
    }

    @Test(
        "An admin address that is a bare port means loopback; anything else parses like a listen address",
        arguments: [
            ("9100", "127.0.0.1", 9100), ("0", "127.0.0.1", 0), ("0.0.0.0:9100", "0.0.0.0", 9100),
            ("[::1]:9100", "::1", 9100), ("localhost", "localhost", 5000),
        ]
    )
    func adminListenAddress(text: String, host: String, port: Int) throws {
        let address = try ListenAddress(parsingAdmin: text)
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test("A bare admin port out of range says so")
    func badAdminListenAddress() {
        let error = #expect(throws: ListenAddressError.self) { try ListenAddress(parsingAdmin: "70000") }
        #expect(error?.description.contains("0 to 65535") == true, "\(String(describing: error))")
    }

    @Test("IPv6 listen addresses print in brackets")
    func listenAddressDescription() {
        #expect(ListenAddress(host: "::1", port: 7).description == "[::1]:7")
        #expect(ListenAddress(host: "10.0.0.1", port: 7).description == "10.0.0.1:7")
    }

    @Test("A users file with comments and blank lines parses; passwords verify")
    func parseUsersFile() throws {
        let hash = PasswordHash(hashing: "pw", iterations: 100).encoded
        let text = "# accounts\n\nalice:\(hash)\n  bob:\(PasswordHash(hashing: "x", iterations: 100).encoded)  \n"
        let users = try UserDirectory(parsing: text, source: "users")
        #expect(users.userNames == ["alice", "bob"])
        #expect(users.verify(user: "alice", password: "pw"))
        #expect(!users.verify(user: "alice", password: "px"))
        #expect(!users.verify(user: "carol", password: "pw"))
    }

    @Test(
        "Users file errors name the line and the problem, never the hash",
        arguments: [
            ("alice\n", 1, "expected NAME:"), ("# c\nalice:nope\n", 2, "password hash of 'alice'"),
            (":pbkdf2-sha256$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==\n", 1, "empty"),
        ]
    )
    func badUsersFile(text: String, line: Int, problem: String) {
        let error = #expect(throws: UsersFileError.self) { try UserDirectory(parsing: text, source: "/etc/u") }
        #expect(error?.line == line)
        #expect(error?.description.contains(problem) == true, "\(String(describing: error))")
        #expect(error?.description.contains("nope") == false)
    }

    @Test("A user listed twice is an error")
    func duplicateUser() {
        let hash = PasswordHash(hashing: "pw", iterations: 10).encoded
        let error = #expect(throws: UsersFileError.self) {
            try UserDirectory(parsing: "a:\(hash)\na:\(hash)\n", source: "u")
        }
        #expect(error?.line == 2)
        #expect(error?.problem.contains("twice") == true)
    }

    @Test("A missing users file is reported with its path")
    func missingUsersFile() {
        let error = #expect(throws: UsersFileError.self) { try UserDirectory.load(path: "/nonexistent/tt-users") }
        #expect(error?.description.contains("/nonexistent/tt-users") == true)
    }

    @Test("add-user creates the file with mode 0600, replaces a password and keeps other lines")
    func addUser() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-users-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("users").path
        #expect(try UserDirectory.addUser("alice", password: "one", toFileAt: path, iterations: 100))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try (String(contentsOfFile: path, encoding: .utf8) + "# keep me\n").write(
            toFile: path,
            atomically: false,
            encoding: .utf8
        )
        #expect(try UserDirectory.addUser("bob", password: "two", toFileAt: path, iterations: 100))
        #expect(try !UserDirectory.addUser("alice", password: "three", toFileAt: path, iterations: 100))
        let users = try UserDirectory.load(path: path)
        #expect(users.userNames == ["alice", "bob"])
        #expect(users.verify(user: "alice", password: "three"))
        #expect(users.verify(user: "bob", password: "two"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("# keep me"))
        #expect(!text.contains("three"))
    }

    @Test("add-user refuses names with ':' or whitespace")
    func addUserBadName() {
        #expect(throws: UsersFileError.self) {
            try UserDirectory.addUser("a b", password: "x", toFileAt: "/tmp/never-written", iterations: 1)
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written"))
    }
}
