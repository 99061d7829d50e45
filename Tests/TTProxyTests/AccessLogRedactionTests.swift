import Testing

@testable import TTProxy

@Suite("The access log never shows user information from a request line, however the line is spaced")
struct AccessLogRedactionTests {
    @Test(
        "user:password@ is redacted wherever the words of the request line are, not only in a second space-separated one",
        arguments: [
            ("CONNECT alice:secret@127.0.0.1:443 HTTP/1.1", "CONNECT [redacted]@127.0.0.1:443 HTTP/1.1"),
            // Malformed lines (400) are logged too: two spaces, a tab or another control character as the
            // separator put the target in another word than the second.
            ("CONNECT  alice:secret@127.0.0.1:443 HTTP/1.1", "CONNECT [redacted]@127.0.0.1:443 HTTP/1.1"),
            ("CONNECT\talice:secret@127.0.0.1:443 HTTP/1.1", "CONNECT\\x09[redacted]@127.0.0.1:443 HTTP/1.1"),
            ("CONNECT\u{0B}alice:secret@host:443 HTTP/1.1", "CONNECT\\x0B[redacted]@host:443 HTTP/1.1"),
            (" CONNECT alice:secret@host:443 HTTP/1.1", " [redacted]@host:443 HTTP/1.1"),
            ("alice:secret@host:443", "[redacted]@host:443"),
            ("GET http://alice:secret@example.com/ HTTP/1.1", "GET [redacted]@example.com/ HTTP/1.1"),
            // A separator inside the user information, or a letter outside ASCII, does not end the redaction.
            ("CONNECT alice:secret @host:443 HTTP/1.1", "CONNECT [redacted]@host:443 HTTP/1.1"),
            ("CONNECT alice:secret\u{A0}@host:443 HTTP/1.1", "CONNECT [redacted]@host:443 HTTP/1.1"),
            ("CONNECT alice:s\u{E9}cret@host:443 HTTP/1.1", "CONNECT [redacted]@host:443 HTTP/1.1"),
            ("CONNECT alice:secret@\u{301}host:443 HTTP/1.1", "CONNECT [redacted]@\\u{301}host:443 HTTP/1.1"),
            ("CONNECT example.com:443 HTTP/1.1", "CONNECT example.com:443 HTTP/1.1"),
        ]
    )
    func redacted(line: String, logged: String) {
        let sanitized = AccessLogEntry.sanitize(line)
        #expect(sanitized == logged)
        #expect(!sanitized.contains("secret"))
    }
}
