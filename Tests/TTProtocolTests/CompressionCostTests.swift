import Glibc
import Testing

@testable import TTProtocol

/// What compressing costs when the peer chooses the bytes: a server compresses Echo answers on its event loop,
/// before login too, so their cost must follow their size, whatever they hold.
@Suite("Compression cost")
struct CompressionCostTests {
    /// The size of the largest Echo payload a session may send before login (64 KiB packet, 11-byte header).
    static let size = (64 << 10) - 11

    @Test("Random text over two letters (level 9's worst case) costs at most a few times random bytes")
    func longHashChains() throws {
        let codec = GzipCodec()
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
