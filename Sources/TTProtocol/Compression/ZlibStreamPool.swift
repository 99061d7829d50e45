internal import CZlib
import Glibc
import Synchronization

/// One initialised zlib stream (deflate at level 9 with a gzip wrapper, or a gzip-only inflater).
///
/// A deflate stream at level 9 holds about 256 KiB, so streams are never owned per connection: they live in
/// ``ZlibStreamPool`` and are borrowed for one operation at a time.
final class ZlibStream {
    enum Direction {
        case deflate
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
            case .deflate: CZlib_deflateInit2(pointer, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
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
    /// Streams kept per direction; more can be borrowed at once, the extra ones are freed on return.
    static let retainedPerDirection = max(4, 2 * ProcessorCount.online)

    fileprivate static let deflaters = Mutex<[ZlibStream]>([])
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
        case .deflate: deflaters.withLock { $0.popLast() }
        case .inflate: inflaters.withLock { $0.popLast() }
        }
    }

    private static func give(_ stream: ZlibStream) {
        switch stream.direction {
        case .deflate: deflaters.withLock { if $0.count < retainedPerDirection { $0.append(stream) } }
        case .inflate: inflaters.withLock { if $0.count < retainedPerDirection { $0.append(stream) } }
        }
    }
}

enum ProcessorCount {
    static let online: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
