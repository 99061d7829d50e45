import TTBasics
import Testing

@Suite("Printable previews of peer bytes, durations and trimming")
struct PrintableBytesTests {
    @Test(
        "printable ASCII is kept, everything else escaped, and cut bytes are marked",
        arguments: [
            (Array("HTTP/1.1 400 Bad Request\r\n".utf8), 64, "HTTP/1.1 400 Bad Request\\r\\n"),
            (Array("SSH-2.0-OpenSSH_9.2p1".utf8), 8, "SSH-2.0-…"),
            ([0x15, 0x03, 0x01, 0x00, 0x02, 0xFF], 64, "\\x15\\x03\\x01\\x00\\x02\\xff"),
            (Array("a\"b\\c\td".utf8), 64, "a\\\"b\\\\c\\td"),
            (Array("é".utf8), 64, "\\xc3\\xa9"),
            ([], 8, ""),
            (Array("abc".utf8), 3, "abc"),
            (Array("abc".utf8), 0, "…"),
        ] as [([UInt8], Int, String)]
    )
    func escaped(bytes: [UInt8], limit: Int, expected: String) {
        #expect(PrintableBytes.escaped(bytes, limit: limit) == expected)
        #expect(PrintableBytes.quoted(bytes, limit: limit) == "\"" + expected + "\"")
    }

    @Test("durations convert to milliseconds, truncated, rounded up or with fractions")
    func milliseconds() {
        let duration = Duration.milliseconds(1234) + .microseconds(500)
        #expect(duration.inMilliseconds == 1234.5)
        #expect(duration.wholeMilliseconds == 1234)
        #expect(duration.wholeMillisecondsRoundedUp == 1235)
        #expect(Duration.milliseconds(7).wholeMillisecondsRoundedUp == 7)
        #expect(Duration.nanoseconds(1).wholeMillisecondsRoundedUp == 1)
        #expect(Duration.nanoseconds(1).wholeMilliseconds == 0)
        #expect(Duration.zero.wholeMillisecondsRoundedUp == 0)
        #expect(Duration.seconds(3).inMilliseconds == 3000)
    }

    @Test("trimming removes surrounding whitespace and newlines only")
    func trimming() {
        #expect("  a b \t\r\n".trimmingWhitespace() == "a b")
        #expect(" \n ".trimmingWhitespace() == "")
        #expect("x".trimmingWhitespace() == "x")
        #expect("  x  "[...].trimmingWhitespace() == "x")
    }
}
