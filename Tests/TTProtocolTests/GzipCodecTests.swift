import Foundation
import Testing

@testable import TTProtocol

@Suite("GzipCodec")
struct GzipCodecTests {
    let codec = GzipCodec()

    @Test(
        "Compression round-trips from 0 bytes to 4 MiB",
        arguments: [0, 1, 100, 65536, (1 << 20) - 1, 1 << 20, 4 << 20]
    )
    func roundTrip(size: Int) throws {
        let input = recordLikeBytes(size, seed: UInt32(size))
        let compressed = codec.compress(input)
        #expect(compressed.prefix(3) == [0x1F, 0x8B, 0x08])
        #expect(try codec.decompress(compressed, limit: size) == input)
    }

    @Test("Level 9 output of the same input is identical every time")
    func deterministic() {
        let input = recordLikeBytes(10_000)
        #expect(codec.compress(input) == codec.compress(input))
    }

    @Test("Large inputs become several gzip members that gzip itself accepts and inflates to the input")
    func parallelMembersAreValidGzip() throws {
        let parallel = GzipCodec(parallelThreshold: 64 << 10, minimumChunkSize: 64 << 10)
        let input = recordLikeBytes(1 << 20, seed: 7)
        let compressed = parallel.compress(input)
        let members = compressed.indices.dropLast(2).filter {
            compressed[$0] == 0x1F && compressed[$0 + 1] == 0x8B && compressed[$0 + 2] == 0x08
        }
        #expect(members.count >= 2)
        #expect(try parallel.decompress(compressed, limit: input.count) == input)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("payload.gz")
        try Data(compressed).write(to: file)
        #expect(try run("/bin/gzip", ["-t", file.path]).status == 0)
        let gunzipped = try run("/bin/gzip", ["-d", "-c", file.path])
        #expect(gunzipped.status == 0)
        #expect([UInt8](gunzipped.output) == input)
    }

    @Test("Small inputs compress with small streams into the standard stream's bytes, which gzip inflates")
    func smallStreamsMatchTheStandardStream() throws {
        let shapes = DeflateShape.all
        #expect(DeflateShape.forInput(0) == shapes[0])
        #expect(DeflateShape.forInput(1022) == shapes[3])
        #expect(DeflateShape.forInput(1023) == .standard)
        #expect(DeflateShape.forInput(1 << 20) == .standard)
        var contents: [(String, [UInt8])] = [("zeros", [UInt8](repeating: 0, count: 1100))]
        contents.append(("records", recordLikeBytes(1100, seed: 3)))
        var state: UInt32 = 99
        let noise = (0..<1100).map { _ in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(state >> 24)
        }
        contents.append(("noise", noise))
        // A Ping-like packet: a header and a short payload in two parts, as PacketCodec passes them.
        let header: [UInt8] = [0x01, 0x00, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0x05]
        var checked = 0
        for (name, content) in contents {
            for size in 0...1100 {
                let payload = Array(content.prefix(size))
                let total = header.count + size
                let shape = DeflateShape.forInput(total)
                let small = deflate([header, payload], shape: shape)
                let standard = deflate([header, payload], shape: .standard)
                #expect(small == standard, "\(name), \(total) bytes, shape \(shape)")
                #expect(try codec.decompress(small, limit: total) == header + payload, "\(name), \(total) bytes")
                checked += 1
            }
        }
        #expect(checked == 3 * 1101)
        // An inflater that is not zlib: gzip itself, for one input of each small shape.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for shape in shapes.dropLast() {
            let input = recordLikeBytes(shape.largestInput, seed: 5)
            let file = directory.appendingPathComponent("small-\(shape.largestInput).gz")
            try Data(deflate([input], shape: shape)).write(to: file)
            let gunzipped = try run("/bin/gzip", ["-d", "-c", file.path])
            #expect(gunzipped.status == 0)
            #expect([UInt8](gunzipped.output) == input)
        }
    }

    @Test("A decompression bomb is refused at the limit, quickly")
    func bomb() throws {
        // 16 MiB of zeros deflate to ~16 KiB; twenty members claim 320 MiB.
        let member = GzipCodec(parallelThreshold: .max).compress([UInt8](repeating: 0, count: 16 << 20))
        let bomb = Array([[UInt8]](repeating: member, count: 20).joined())
        #expect(bomb.count < 1 << 20)
        let start = ContinuousClock.now
        #expect(throws: ProtocolError.inflatedSizeExceeded) { try codec.decompress(bomb, limit: 8 << 20) }
        #expect(throws: ProtocolError.inflatedSizeExceeded) { try codec.decompress(member, limit: 1 << 20) }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(ProtocolError.inflatedSizeExceeded.kind == .decompression)
    }

    @Test("Output exactly at the limit is accepted")
    func exactlyAtLimit() throws {
        let input = recordLikeBytes(5000)
        #expect(try codec.decompress(codec.compress(input), limit: 5000) == input)
        #expect(throws: ProtocolError.inflatedSizeExceeded) { try codec.decompress(codec.compress(input), limit: 4999) }
    }

    @Test("Corrupt, truncated, empty and non-gzip input is rejected")
    func corrupt() {
        var compressed = codec.compress(recordLikeBytes(5000))
        var flipped = compressed
        flipped[flipped.count / 2] ^= 0xFF
        #expect(throws: ProtocolError.corruptCompressedData) { try codec.decompress(flipped, limit: 1 << 20) }
        #expect(throws: ProtocolError.corruptCompressedData) {
            try codec.decompress(Array(compressed.dropLast(5)), limit: 1 << 20)
        }
        #expect(throws: ProtocolError.corruptCompressedData) { try codec.decompress([], limit: 1 << 20) }
        #expect(throws: ProtocolError.corruptCompressedData) {
            try codec.decompress(Array("HTTP/1.1 200 OK\r\n\r\n".utf8), limit: 1 << 20)
        }
        compressed[compressed.count - 6] ^= 0x01  // CRC-32 of the trailer
        #expect(throws: ProtocolError.corruptCompressedData) { try codec.decompress(compressed, limit: 1 << 20) }
    }

    @Test("Garbage after the last gzip member is rejected")
    func trailingGarbage() {
        let compressed = codec.compress(recordLikeBytes(100))
        #expect(throws: ProtocolError.corruptCompressedData) {
            try codec.decompress(compressed + [0x00, 0x01, 0x02], limit: 1 << 20)
        }
        #expect(throws: ProtocolError.corruptCompressedData) {
            try codec.decompress(compressed + Array("garbage".utf8), limit: 1 << 20)
        }
    }

    @Test("Concurrent use from many threads is safe and correct")
    func concurrent() async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<16 {
                group.addTask {
                    let input = recordLikeBytes(20_000 + index, seed: UInt32(index))
                    return try GzipCodec().decompress(GzipCodec().compress(input), limit: 1 << 20) == input
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }

    private func deflate(_ parts: [[UInt8]], shape: DeflateShape) -> [UInt8] {
        let bound = parts.reduce(0) { $0 + $1.count } * 2 + 64
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { out in
            withBuffers(parts) { codec.deflateMember($0, into: out.baseAddress!, capacity: bound, shape: shape) }
        }
        return Array(out.prefix(written))
    }

    /// Runs `body` with raw buffers of every part (they stay valid for the whole call).
    private func withBuffers<R>(_ parts: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
        guard let first = parts.first else { return body([]) }
        return first.withUnsafeBytes { buffer in withBuffers(Array(parts.dropFirst())) { body([buffer] + $0) } }
    }

    private func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
