import Testing

@testable import TTTransport

/// ``RelayBuffer`` moves its bytes to the front only when little room is left behind them; whatever the pattern
/// of fills and partial drains, it must hand out exactly the bytes it took, in order, and never more than its
/// capacity.
@Suite("RelayBuffer")
struct RelayBufferTests {
    @Test("partial fills and drains keep every byte in order, within the capacity")
    func fifoUnderPartialDrains() {
        let capacity = 1000
        var buffer = RelayBuffer(capacity: capacity)
        var expected: [UInt8] = []
        var drained: [UInt8] = []
        var next: UInt8 = 0
        // Deterministic step sizes (xorshift), so a failure repeats.
        var state: UInt32 = 0x1234_5678
        func random(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return Int(state % UInt32(bound))
        }
        for _ in 0..<5000 {
            let free = buffer.freeCount
            if free > 0, random(2) == 0 {
                let wanted = 1 + random(capacity)
                let count = buffer.fillFromDescriptor { space in
                    #expect(space.count > 0)
                    #expect(space.count <= free)
                    let count = min(wanted, space.count)
                    for index in 0..<count {
                        space[index] = next
                        expected.append(next)
                        next &+= 1
                    }
                    return count
                }
                #expect(count > 0)
            } else if !buffer.isEmpty {
                let wanted = random(capacity)
                _ = buffer.drain { bytes in
                    let count = min(wanted, bytes.count)
                    drained.append(contentsOf: bytes[0..<count])
                    return count
                }
            }
            #expect(capacity - buffer.freeCount == expected.count - drained.count)
        }
        _ = buffer.drain { bytes in
            drained.append(contentsOf: bytes)
            return bytes.count
        }
        #expect(buffer.isEmpty)
        #expect(drained == expected)
        #expect(expected.count > 10 * capacity)
    }
}
