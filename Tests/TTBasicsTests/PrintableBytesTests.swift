import TTBasics
import Testing

@Suite("Printable previews of peer bytes")
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
}
