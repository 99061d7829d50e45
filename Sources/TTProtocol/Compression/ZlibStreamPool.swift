internal import CZlib
import Glibc
import Synchronization

/// The window and hash sizes of one deflate stream.
///
/// Level 9, the gzip wrapper and the default strategy are the protocol's; window and hash size are ours, and the
/// gzip format does not record them. What they cost is per frame: `deflateReset` clears the hash table, 64 KiB at
/// the standard `memLevel` 8, more than all the rest of compressing a Ping. So a small input gets a stream sized
/// for it, one whose output is the standard stream's byte for byte (`GzipCodecTests` checks every size):
/// - its window holds the whole input plus zlib's lookahead (262 bytes), so every match the standard stream finds
///   is in reach;
/// - its symbol buffer (`2^(memLevel + 6)` entries) holds the whole input, so no block ends early;
/// - the input is at most 1,022 bytes, fewer positions than level 9's shortest hash chain walk (1,024), so a
///   smaller hash table, whose chains also hold colliding positions, still shows the search every real match.
struct DeflateShape: Hashable, Sendable {
    let windowBits: Int32
    let memLevel: Int32
    /// Largest input this shape compresses exactly as ``standard`` does.
    let largestInput: Int

    /// The protocol's documented stream: a 32 KiB window, `memLevel` 8.
    static let standard = DeflateShape(windowBits: 15, memLevel: 8, largestInput: .max)

    /// Every shape, smallest first; the index is the shape's pool.
    static let all: [DeflateShape] = [
        DeflateShape(windowBits: 9, memLevel: 1, largestInput: 126),
        DeflateShape(windowBits: 10, memLevel: 2, largestInput: 254),
        DeflateShape(windowBits: 10, memLevel: 3, largestInput: 510),
        DeflateShape(windowBits: 11, memLevel: 4, largestInput: 1022),
        standard,
    ]

    /// The cheapest shape for an input of `count` bytes.
    static func forInput(_ count: Int) -> DeflateShape {
        all.first { count <= $0.largestInput } ?? standard
    }

    var poolIndex: Int { Self.all.firstIndex(of: self)! }
}

/// One initialised zlib stream (deflate at level 9 with a gzip wrapper, or a gzip-only inflater).
///
/// A standard deflate stream at level 9 holds about 256 KiB, so streams are never owned per connection: they
/// live in ``ZlibStreamPool`` and are borrowed for one operation at a time.
final class ZlibStream {
    enum Direction: Hashable {
        case deflate(DeflateShape)
        case inflate
    }

    let pointer: UnsafeMutablePointer<z_stream>
    let direction: Direction

    init(_ direction: Direction) {
        self.direction = direction
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: z_stream())
        let rc: Int32 =
            switch direction {
            case .deflate(let shape):
                CZlib_deflateInit2(pointer, 9, Z_DEFLATED, shape.windowBits + 16, shape.memLevel, Z_DEFAULT_STRATEGY)
            case .inflate: CZlib_inflateInit2(pointer, 15 + 16)
            }
        // Init only fails for bad parameters (ours are constant) or out of memory.
        precondition(rc == Z_OK, "zlib stream init failed (\(rc))")
    }

    deinit {
        switch direction {
        case .deflate: deflateEnd(pointer)
        case .inflate: inflateEnd(pointer)
        }
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
}

// Ownership of a stream moves through the pool's Mutex: it is either inside the pool (guarded by the lock) or
// borrowed by exactly one caller for the duration of `ZlibStreamPool.withStream`, never shared between threads.
extension ZlibStream: @unchecked Sendable {}

/// A small process-wide pool of zlib streams, reused with `deflateReset` / `inflateReset`.
enum ZlibStreamPool {
    /// Streams kept per direction and deflate shape; more can be borrowed at once, the extra ones are freed on
    /// return.
    static let retainedPerDirection = max(4, 2 * ProcessorCount.online)

    /// One list per ``DeflateShape/all`` entry.
    fileprivate static let deflaters = Mutex<[[ZlibStream]]>(Array(repeating: [], count: DeflateShape.all.count))
    fileprivate static let inflaters = Mutex<[ZlibStream]>([])

    /// Runs `body` with a stream borrowed from the pool; the stream goes back afterwards.
    static func withStream<R, E: Error>(
        _ direction: ZlibStream.Direction,
        _ body: (UnsafeMutablePointer<z_stream>) throws(E) -> R
    ) throws(E) -> R {
        let stream = take(direction) ?? ZlibStream(direction)
        defer { give(stream) }
        return try body(stream.pointer)
    }
}

extension ZlibStreamPool {
    private static func take(_ direction: ZlibStream.Direction) -> ZlibStream? {
        switch direction {
        case .deflate(let shape):
            let index = shape.poolIndex
            return deflaters.withLock { $0[index].popLast() }
        case .inflate: return inflaters.withLock { $0.popLast() }
        }
    }

    private static func give(_ stream: ZlibStream) {
        switch stream.direction {
        case .deflate(let shape):
            let index = shape.poolIndex
            deflaters.withLock { if $0[index].count < retainedPerDirection { $0[index].append(stream) } }
        case .inflate: inflaters.withLock { if $0.count < retainedPerDirection { $0.append(stream) } }
        }
    }
}

enum ProcessorCount {
    static let online: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
