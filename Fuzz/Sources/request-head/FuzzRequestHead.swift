import NIOCore

@testable import TTProxy

// What a client sends tt-proxy before its tunnel: request heads, then tunnel bytes (RequestHeadParser).
// The same bytes given whole and in small pieces must give the same heads and leave the same remainder.

let limit = 512

enum Outcome: Equatable {
    case head(valid: Bool, lines: [String], host: String?, strict: Bool)
    case tooLarge
}

/// Feeds `chunks` in order, taking every head as soon as it is complete, up to the first `tooLarge`.
func parse(_ chunks: [ArraySlice<UInt8>]) -> (outcomes: [Outcome], remainder: [UInt8]) {
    var parser = RequestHeadParser(limit: limit)
    var outcomes: [Outcome] = []
    for chunk in chunks {
        var buffer = ByteBuffer(bytes: chunk)
        parser.append(&buffer)
        while let result = parser.next() {
            switch result {
            case .head(let head, let lines):
                // The head is at most `limit` bytes; decoded, each byte that is not UTF-8 becomes U+FFFD, three
                // bytes, so its lines hold at most three times as many.
                precondition(lines.reduce(0) { $0 + $1.utf8.count } <= 3 * limit)
                outcomes.append(
                    .head(
                        valid: head != nil,
                        lines: lines.map(String.init),
                        host: head?.header("Host"),
                        strict: head?.strictnessProblem == nil
                    )
                )
            case .tooLarge:
                outcomes.append(.tooLarge)
                return (outcomes, [])
            }
        }
    }
    let remainder = parser.takeRemainder()
    return (outcomes, remainder.map { Array($0.readableBytesView) } ?? [])
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = parse([bytes[...]])
    let pieceSize = size % 13 + 1
    let pieces = stride(from: 0, to: size, by: pieceSize).map { bytes[$0..<min(size, $0 + pieceSize)] }
    let split = parse(pieces)
    precondition(whole.outcomes == split.outcomes, "pieces parsed differently: \(whole.outcomes) vs \(split.outcomes)")
    precondition(whole.remainder == split.remainder, "pieces left a different remainder")
    return 0
}
