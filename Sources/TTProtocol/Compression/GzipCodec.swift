internal import CZlib
import Dispatch

/// gzip (RFC 1952) at level 9 as the frames carry it: pooled zlib streams, several members compressed in
/// parallel for large inputs, and inflation bounded by a limit while it runs.
public struct GzipCodec: Hashable, Sendable {
    /// Inputs at least this large are split into chunks compressed in parallel, one gzip member each.
    public var parallelThreshold: Int
    /// Smallest chunk of a parallel compression; smaller chunks compress worse and gain nothing.
    public var minimumChunkSize: Int
    /// For inputs over 1,022 bytes, the most hash-chain entries deflate examines per position, level 9's other
    /// parameters kept; `nil` is level 9 itself (4096). For a sender that compresses bytes a peer chose: level 9's
    /// walk costs about 2 µs a byte on input built for it (random text over two letters), so a server capping it
    /// at 128 (zlib's default level's chain) answers such a 64 KiB Echo in about 9 ms of CPU instead of 130,
    /// and ordinary data 0.4 % larger. Smaller inputs always keep level 9's chains (they cannot grow long there,
    /// and the small streams must stay byte for byte the standard stream's).
    public var chainLimit: Int?

    /// - Parameters:
    ///   - parallelThreshold: Input size from which compression runs on all cores.
    ///   - minimumChunkSize: Smallest chunk (one gzip member) of a parallel compression.
    ///   - chainLimit: Hash-chain entries examined per position for inputs over 1,022 bytes (1 to 4096, a value
    ///     outside counts as the nearest end), or `nil` for level 9's.
    public init(parallelThreshold: Int = 1 << 20, minimumChunkSize: Int = 256 << 10, chainLimit: Int? = nil) {
        self.parallelThreshold = parallelThreshold
        self.minimumChunkSize = max(1, minimumChunkSize)
        self.chainLimit = chainLimit
    }

    /// Compresses `bytes` at level 9: one gzip member, or one member per chunk for inputs of at least
    /// ``parallelThreshold`` bytes.
    public func compress(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { compress(parts: [$0], prefix: 0, suffix: 0) }
    }

    /// Inflates every gzip member of `bytes` in order and concatenates the output.
    /// - Parameter limit: The largest output accepted; inflating stops as soon as it would be exceeded.
    /// - Throws: ``ProtocolError/inflatedSizeExceeded`` or ``ProtocolError/corruptCompressedData``
    ///   (corrupt, truncated, empty, or followed by bytes that are not a gzip member).
    public func decompress(_ bytes: [UInt8], limit: Int) throws(ProtocolError) -> [UInt8] {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ProtocolError) in try decompress(buffer, limit: limit) }
        }
        return try result.get()
    }

    /// Inflates every gzip member of `bytes` (the buffer form, for callers that already hold the bytes).
    public func decompress(_ bytes: UnsafeRawBufferPointer, limit: Int) throws(ProtocolError) -> [UInt8] {
        guard !bytes.isEmpty else {
            throw ProtocolError.corruptCompressedData.with(detail: "no gzip member")
        }
        // ISIZE of the last member sizes the output exactly for the usual single-member frame; deflate never
        // expands more than 1032:1, so a lying trailer cannot make us reserve more than the input justifies.
        let lastSize =
            bytes.count >= 18
            ? Int(bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self).littleEndian) : 0
        let plausible = min(lastSize, bytes.count > Int.max / 1032 ? Int.max : bytes.count * 1032)
        // One byte past the limit tells "exactly at the limit" from "over it" without a second pass.
        let ceiling = max(0, limit) == .max ? Int.max : max(0, limit) + 1
        var capacity = min(ceiling, max(plausible + 1, 4096))
        return try ZlibStreamPool.withStream(.inflate) { stream throws(ProtocolError) -> [UInt8] in
            guard inflateReset(stream) == Z_OK else { throw ProtocolError.compressionFailure }
            // zlib never writes through next_in; the field is just not declared const.
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self)
            )
            stream.pointee.avail_in = uInt(bytes.count)
            var output: [UInt8] = []
            while true {
                var failure: ProtocolError?
                var finished = false
                let previous = output
                output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                    previous.withUnsafeBufferPointer { old in
                        buffer.baseAddress!.initialize(from: old.baseAddress!, count: old.count)
                    }
                    initialized = previous.count
                    while initialized < capacity {
                        stream.pointee.next_out = buffer.baseAddress! + initialized
                        stream.pointee.avail_out = uInt(capacity - initialized)
                        // Z_FINISH: when the member ends within this buffer (the usual case, the buffer being
                        // sized from ISIZE), zlib skips copying the output into its sliding window; when it does
                        // not, it carries on exactly as with Z_NO_FLUSH and reports Z_BUF_ERROR.
                        let rc = inflate(stream, Z_FINISH)
                        initialized = capacity - Int(stream.pointee.avail_out)
                        if rc == Z_STREAM_END {
                            if stream.pointee.avail_in == 0 {
                                finished = true
                                return
                            }
                            // Another member follows (or garbage, which the next inflate reports).
                            guard inflateReset(stream) == Z_OK else {
                                failure = .compressionFailure
                                return
                            }
                        } else if rc == Z_OK {
                            continue
                        } else if rc == Z_BUF_ERROR && stream.pointee.avail_out == 0 {
                            return
                        } else {
                            let reason = rc == Z_BUF_ERROR ? "truncated gzip member" : "zlib error \(rc)"
                            failure = ProtocolError.corruptCompressedData.with(detail: reason)
                            return
                        }
                    }
                }
                if let failure { throw failure }
                if output.count > limit {
                    throw ProtocolError.inflatedSizeExceeded.with(detail: "limit \(limit) bytes")
                }
                if finished { return output }
                capacity = min(ceiling, capacity > Int.max / 2 ? Int.max : capacity * 2)
            }
        }
    }

    /// Compresses the concatenation of `parts` into one buffer that starts with `prefix` zero bytes and ends
    /// with `suffix` zero bytes, so frames are sealed in place without another copy.
    /// - Parameter memoize: Whether a small input may be served from, and kept in, the stream's memo of its
    ///   last small inputs (`CZlib_DeflateMemo`): only for inputs that hold no secret, since the memo keeps them.
    func compress(parts: [UnsafeRawBufferPointer], prefix: Int, suffix: Int, memoize: Bool = false) -> [UInt8] {
        let total = parts.reduce(0) { $0 + $1.count }
        if total >= parallelThreshold && ProcessorCount.online > 1 {
            var joined = [UInt8]()
            joined.reserveCapacity(total)
            for part in parts { joined.append(contentsOf: part) }
            return joined.withUnsafeBytes { compressInParallel($0, prefix: prefix, suffix: suffix) }
        }
        let bound = CZlib_gzipBound(total)
        return [UInt8](unsafeUninitializedCapacity: prefix + bound + suffix) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: prefix)
            let written = deflateMember(
                parts,
                into: base + prefix,
                capacity: bound,
                shape: .forInput(total),
                memoize: memoize
            )
            (base + prefix + written).initializeMemory(as: UInt8.self, repeating: 0, count: suffix)
            initialized = prefix + written + suffix
        }
    }

    /// Chunks per core of a parallel compression (each still at least ``minimumChunkSize``).
    static let chunksPerCore = 4

    private func compressInParallel(_ input: UnsafeRawBufferPointer, prefix: Int, suffix: Int) -> [UInt8] {
        // Several chunks per core: concurrentPerform hands them out as cores free up, so a core busy with
        // other work delays the frame by one small chunk instead of half the input.
        let targetChunks = ProcessorCount.online * Self.chunksPerCore
        let chunkSize = max(minimumChunkSize, (input.count + targetChunks - 1) / targetChunks)
        let chunkCount = (input.count + chunkSize - 1) / chunkSize
        let chunkBound = CZlib_gzipBound(chunkSize)
        return [UInt8](unsafeUninitializedCapacity: prefix + chunkBound * chunkCount + suffix) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            base.initializeMemory(as: UInt8.self, repeating: 0, count: prefix)
            let sizes = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunkCount)
            defer { sizes.deallocate() }
            let job = ParallelDeflateJob(input: input, output: base + prefix, sizes: sizes)
            DispatchQueue.concurrentPerform(iterations: chunkCount) { index in
                let start = index * chunkSize
                let chunk = UnsafeRawBufferPointer(rebasing: job.input[start..<min(job.input.count, start + chunkSize)])
                job.sizes[index] = deflateMember(
                    [chunk],
                    into: job.output + index * chunkBound,
                    capacity: chunkBound,
                    shape: .forInput(chunk.count)
                )
            }
            var end = prefix + sizes[0]
            for index in 1..<chunkCount {
                (base + end).copyMemory(from: base + prefix + index * chunkBound, byteCount: sizes[index])
                end += sizes[index]
            }
            (base + end).initializeMemory(as: UInt8.self, repeating: 0, count: suffix)
            initialized = end + suffix
        }
    }

    /// Deflates `parts` into `out` as one gzip member with a stream of `shape`; returns the member's length.
    /// With `memoize`, a small input equal to one of the stream's last ones is copied from its memo.
    func deflateMember(
        _ parts: [UnsafeRawBufferPointer],
        into out: UnsafeMutableRawPointer,
        capacity: Int,
        shape: DeflateShape,
        memoize: Bool = false
    )
        -> Int
    {
        var written = 0
        let total = parts.reduce(0) { $0 + $1.count }
        // 0: level 9's own chain; a limit outside 1...4096 counts as its nearest end.
        let maxChain =
            DeflateShape.forInput(total) == .standard ? chainLimit.map { Int32(min(max(1, $0), 4096)) } ?? 0 : 0
        // On the stack: a Ping's two parts are not worth two heap allocations per frame.
        let rc = withUnsafeTemporaryAllocation(of: UnsafePointer<UInt8>?.self, capacity: parts.count) { pointers in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: parts.count) { lengths in
                for (index, part) in parts.enumerated() {
                    pointers.initializeElement(at: index, to: part.baseAddress?.assumingMemoryBound(to: UInt8.self))
                    lengths.initializeElement(at: index, to: part.count)
                }
                return ZlibStreamPool.process.borrow(.deflate(shape)) { stream in
                    CZlib_deflateMember(
                        stream.pointer,
                        maxChain,
                        memoize ? stream.memo : nil,
                        pointers.baseAddress,
                        lengths.baseAddress,
                        parts.count,
                        out.assumingMemoryBound(to: UInt8.self),
                        capacity,
                        &written
                    )
                }
            }
        }
        // The output buffer is sized by deflateBound, so deflate cannot run out of room; anything else is a bug.
        precondition(rc == Z_OK, "deflate failed (\(rc))")
        return written
    }
}

/// The buffers one parallel compression shares between its worker iterations.
///
/// Iteration `i` reads only chunk `i` of `input`, writes only the `i`-th slot of `output` and `sizes[i]`, so no
/// two threads touch the same byte; `concurrentPerform` returns only after every iteration, while the caller
/// still keeps all three buffers alive.
private struct ParallelDeflateJob: @unchecked Sendable {
    let input: UnsafeRawBufferPointer
    let output: UnsafeMutableRawPointer
    let sizes: UnsafeMutableBufferPointer<Int>
}
