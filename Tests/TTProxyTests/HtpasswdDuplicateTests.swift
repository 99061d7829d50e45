import Testing

@testable import TTProxy

/// A user on two lines of an htpasswd file has two passwords, and only one of them works: which one differs
/// between servers (Apache takes the first line), so an edit of the line an administrator finds first may leave
/// the other password, perhaps the one meant to be revoked, in force. Such a file is refused when it loads.
@Suite("htpasswd files with a user on two lines")
struct HtpasswdDuplicateTests {
    @Test("a user on two lines is refused at load, naming the user and the second line, never a hash")
    func duplicateUserRefused() {
        let text = """
            carol:{SHA}xpKnsLVyfXytc2f67IUqnx0vZS0=
            dave:{SHA}fCCRumZt0YDWtYKml2MP4FLbri0=
            carol:{SHA}fCCRumZt0YDWtYKml2MP4FLbri0=
            """
        #expect {
            _ = try HtpasswdFile(parsing: text, path: "users.htpasswd")
        } throws: { error in
            let message = "\(error)"
            return message.contains("users.htpasswd line 3") && message.contains("user carol")
                && message.contains("line 1") && !message.contains("{SHA}")
        }
    }

    @Test("a file saved with CR LF line ends holds every user, and a duplicate is still found")
    func crlfLineEnds() throws {
        let file = try HtpasswdFile(
            parsing: "# users\r\ncarol:{SHA}xpKnsLVyfXytc2f67IUqnx0vZS0=\r\ndave:{SHA}fCCRumZt0YDWtYKml2MP4FLbri0=\r\n"
        )
        #expect(file.users == ["carol", "dave"])
        #expect(file.verify(user: "carol", password: "old-pass"))
        #expect(file.verify(user: "dave", password: "new-pass"))
        #expect(throws: HtpasswdError.self) {
            try HtpasswdFile(
                parsing: "carol:{SHA}xpKnsLVyfXytc2f67IUqnx0vZS0=\r\ncarol:{SHA}fCCRumZt0YDWtYKml2MP4FLbri0=\r\n"
            )
        }
    }

    @Test("distinct users on their own lines still load")
    func distinctUsersLoad() throws {
        let file = try HtpasswdFile(
            parsing: "carol:{SHA}xpKnsLVyfXytc2f67IUqnx0vZS0=\ndave:{SHA}fCCRumZt0YDWtYKml2MP4FLbri0=\n"
        )
        #expect(file.users == ["carol", "dave"])
        #expect(file.verify(user: "carol", password: "old-pass"))
        #expect(file.verify(user: "dave", password: "new-pass"))
    }
}
