import CZlib
import Glibc
import Testing

@testable import TTProtocol

/// What compressing costs when the peer chooses the bytes: a server compresses Echo answers on its event loop,
/// before login too, so with its chain limit (tt-server's answers use 128) their cost must follow their size,
/// whatever they hold. Without one the codec is level 9 itself.
@Suite("Compression cost")
struct CompressionCostTests {
    /// The size of the largest Echo payload a session may send before login (64 KiB packet, 11-byte header).
    static let size = (64 << 10) - 11

    @Test("Random text over two letters (level 9's worst case) costs at most a few times random bytes")
    func longHashChains() throws {
        let codec = GzipCodec(chainLimit: 128)
        // Every 3-byte string recurs every few bytes and matches run for about 16: level 9 walks 4096 candidates at
        // each position, 130 ms for 64 KiB where random bytes take 1 ms.
        let twoLetters = pseudoRandomBytes(Self.size, seed: 7).map {
            $0 & 1 == 0 ? UInt8(ascii: "a") : UInt8(ascii: "b")
        }
        let random = pseudoRandomBytes(Self.size, seed: 8)
        var compressed: [UInt8] = []
        // CPU time of this thread, median of five: what other processes do with the cores does not count.
        let worst = median((0..<5).map { _ in threadCPUTime { compressed = codec.compress(twoLetters) } })
        let ordinary = median((0..<5).map { _ in threadCPUTime { _ = codec.compress(random) } })
        #expect(try codec.decompress(compressed, limit: Self.size) == twoLetters)
        // About 110 times with level 9's chains; about 7 with 128.
        #expect(worst <= 25 * ordinary, "two letters \(worst * 1000) ms, random bytes \(ordinary * 1000) ms")
        // Still compressed about as well as level 9 does (10,346 bytes; 10,540 with the cap).
        #expect(compressed.count < 11_000)
    }

    @Test("Without a chain limit, an input over 1,022 bytes deflates as zlib's level 9 does, byte for byte")
    func levelNineByDefault() {
        let input = recordLikeBytes(20_000, seed: 5)
        #expect(GzipCodec().compress(input) == zlibLevelNine(input))
        #expect(GzipCodec(chainLimit: 128).compress(input) != zlibLevelNine(input))
        // A limit past level 9's own chain is level 9's chain (and does not trap on the way to zlib's int).
        #expect(GzipCodec(chainLimit: .max).compress(input) == zlibLevelNine(input))
    }
}

/// `input` deflated by a fresh zlib stream at level 9 with the protocol's parameters, nothing tuned.
private func zlibLevelNine(_ input: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    guard CZlib_deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK else { return [] }
    defer { deflateEnd(&stream) }
    var input = input
    var output = [UInt8](repeating: 0, count: CZlib_gzipBound(input.count))
    let written = input.withUnsafeMutableBufferPointer { input in
        output.withUnsafeMutableBufferPointer { output in
            stream.next_in = input.baseAddress
            stream.avail_in = uInt(input.count)
            stream.next_out = output.baseAddress
            stream.avail_out = uInt(output.count)
            return deflate(&stream, Z_FINISH) == Z_STREAM_END ? output.count - Int(stream.avail_out) : 0
        }
    }
    return Array(output.prefix(written))
}

/// Deterministic bytes from a 64-bit linear congruential generator (its high byte), so the test does not depend
/// on a random generator.
private func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}

/// The CPU time the calling thread spends in `body`, in seconds.
private func threadCPUTime(_ body: () -> Void) -> Double {
    func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
    let start = now()
    body()
    return now() - start
}

private func median(_ values: [Double]) -> Double {
    values.sorted()[values.count / 2]
}
