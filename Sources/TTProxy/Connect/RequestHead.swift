import NIOCore

/// One HTTP request head as a CONNECT proxy sees it: request line and header fields.
struct RequestHead {
    /// The request line as received (for the access log, after sanitising).
    var requestLine: String
    var method: String
    var target: String
    var version: String
    var headers: [(name: String, value: String)]
    /// Whether every line of the head ended in CRLF, with no bare LF or lone CR anywhere (set by the parser).
    var lineEndsAreCRLF = true

    /// The first value of the header `name`, compared case-insensitively.
    func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    /// Parses the head's lines; `nil` when the request line or a header line is not HTTP/1.x syntax.
    init?(lines: [Substring]) {
        guard let first = lines.first else { return nil }
        requestLine = String(first)
        let parts = first.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty,
            parts[0].allSatisfy({ $0.isLetter && $0.isASCII }),
            parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0"
        else { return nil }
        method = String(parts[0])
        target = String(parts[1])
        version = String(parts[2])
        headers = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon]
            guard !name.isEmpty, !name.contains(" "), !name.contains("\t") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            headers.append((String(name), String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())))
        }
    }

    /// Why a strict HTTP/1.1 recipient (RFC 9112) must refuse this head with 400, or `nil` when it may not.
    ///
    /// A CONNECT head has no body, so any body framing (a `Content-Length` other than 0, any `Transfer-Encoding`)
    /// would put the client's "body" into the tunnel; duplicated framing or credentials, control characters and
    /// bare line ends are where two parsers disagree about what was sent (request smuggling). The scenario engine
    /// does not call this: it misbehaves on purpose.
    var strictnessProblem: String? {
        guard lineEndsAreCRLF else { return "every line of the request head must end in CRLF (not a bare LF or CR)" }
        for (name, value) in headers {
            let isControl: (Unicode.Scalar) -> Bool = { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }
            if name.unicodeScalars.contains(where: isControl) || value.unicodeScalars.contains(where: isControl) {
                return "the header field '\(Self.printable(name))' contains a control character"
            }
        }
        if header("Transfer-Encoding") != nil {
            return "a CONNECT request has no body: Transfer-Encoding is not allowed"
        }
        for unique in ["Content-Length", "Proxy-Authorization", "Host"] {
            let lowered = unique.lowercased()
            if headers.count(where: { $0.name.lowercased() == lowered }) > 1 {
                return "the header field \(unique) appears more than once"
            }
        }
        if let length = header("Content-Length"), length != "0" {
            return "a CONNECT request has no body: Content-Length must be 0 or absent"
        }
        return nil
    }

    /// `text` with control characters shown as `?`, for a message that quotes a header name.
    private static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }
}

/// Splits a byte stream into request heads, bounded by a size limit, keeping the bytes that follow a head.
///
/// Bytes after the blank line belong to the tunnel (a client may write before it sees the `200`), so the parser
/// never consumes more than one head at a time.
struct RequestHeadParser {
    enum Result {
        /// A complete head, as lines without their line endings; `nil` lines when it is not valid syntax.
        case head(RequestHead?, lines: [Substring])
        /// The head grew past the limit without ending.
        case tooLarge
    }

    private var buffer: ByteBuffer?
    private var scanned = 0
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    mutating func append(_ bytes: inout ByteBuffer) {
        if buffer == nil {
            buffer = bytes
        } else {
            buffer!.writeBuffer(&bytes)
        }
    }

    /// Bytes received but not yet parsed as a head: what follows the last head.
    mutating func takeRemainder() -> ByteBuffer? {
        defer {
            buffer = nil
            scanned = 0
        }
        guard let buffer, buffer.readableBytes > 0 else { return nil }
        return buffer
    }

    /// The next complete head, `.tooLarge`, or `nil` when more bytes are needed.
    mutating func next() -> Result? {
        guard var buffer else { return nil }
        // Leading blank lines before a request line are allowed by RFC 9112 §2.2.
        while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), byte == 0x0D || byte == 0x0A {
            buffer.moveReaderIndex(forwardBy: 1)
            scanned = 0
        }
        let view = buffer.readableBytesView
        var index = view.startIndex + scanned
        var end: Int?
        while index < view.endIndex {
            if view[index] == 0x0A {
                let next = index + 1
                if next < view.endIndex, view[next] == 0x0A {
                    end = next + 1
                    break
                }
                if next + 1 < view.endIndex, view[next] == 0x0D, view[next + 1] == 0x0A {
                    end = next + 2
                    break
                }
                if next >= view.endIndex || (next + 1 >= view.endIndex && view[next] == 0x0D) {
                    break
                }
            }
            index += 1
        }
        guard let end else {
            scanned = max(0, index - view.startIndex)
            self.buffer = buffer
            return buffer.readableBytes > limit ? .tooLarge : nil
        }
        let length = end - view.startIndex
        guard length <= limit else { return .tooLarge }
        let text = buffer.readString(length: length) ?? ""
        self.buffer = buffer
        scanned = 0
        let lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" }
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        var head = RequestHead(lines: lines)
        // Characters, not bytes: "\r\n" is one Character, so a "\n" or "\r" left over is a bare line end.
        head?.lineEndsAreCRLF = !text.contains("\n") && !text.contains("\r")
        return .head(head, lines: lines)
    }
}
