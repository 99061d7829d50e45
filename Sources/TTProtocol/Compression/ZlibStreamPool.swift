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
    /// A deflate stream's last small inputs and their members (`nil` for an inflater); see ``GzipCodec``.
    let memo: UnsafeMutablePointer<CZlib_DeflateMemo>?

    init(_ direction: Direction) {
        self.direction = direction
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: z_stream())
        if case .deflate = direction {
            memo = .allocate(capacity: 1)
            memo!.initialize(to: CZlib_DeflateMemo())
        } else {
            memo = nil
        }
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
        memo?.deinitialize(count: 1)
        memo?.deallocate()
    }
}

// Ownership of a stream moves through the pool: it is either in a thread's cache (touched by that thread only),
// in the spare lists (guarded by the lock), or borrowed by exactly one caller for the duration of
// `ZlibStreamPool.borrow`, never shared between threads (the memo with it).
extension ZlibStream: @unchecked Sendable {}

/// zlib streams, reused with `deflateReset` / `inflateReset`: each thread keeps one stream of each kind for
/// itself, and a small spare pool behind a lock serves the rest.
///
/// A process-wide lock per frame cost a many-thread client far more than the lock itself: with 16 threads on
/// 2 cores, `Mutex` spun in convoys that made a Ping's codec work 10 to 25 times as expensive in some seconds
/// (BENCHMARKS.md, codec). A thread's own streams need no lock. Memory stays bounded: at most
/// ``threadCacheLimit`` threads keep streams (one per kind, about 360 KiB when a thread has used every kind, 256
/// KiB of it the standard deflate stream), the spare pool keeps at most ``retainedPerKind`` of each kind, and a
/// thread's streams go back to the spare pool (or are freed) when the thread ends.
final class ZlibStreamPool: Sendable {
    /// The pool every codec uses.
    static let process = ZlibStreamPool(
        threadCacheLimit: max(16, 2 * ProcessorCount.online),
        retainedPerKind: max(4, 2 * ProcessorCount.online)
    )

    /// Most threads that keep streams of their own (the process's pool: a server's event loops, one per core,
    /// and as many other threads); later threads use the spare pool until one of them ends.
    let threadCacheLimit: Int
    /// Spare streams kept per kind; more can be borrowed at once, the extra ones are freed on return.
    let retainedPerKind: Int

    /// One spare list per kind (``ZlibStream/Direction/kind``).
    private let spares = Mutex<[[ZlibStream]]>(Array(repeating: [], count: ZlibStream.Direction.kindCount))
    /// Threads that hold a ``ThreadStreams`` of this pool.
    private let threadCaches = Atomic<Int>(0)
    /// The thread-specific slot of a thread's ``ThreadStreams``; its destructor runs when the thread ends.
    private let key: pthread_key_t

    init(threadCacheLimit: Int, retainedPerKind: Int) {
        self.threadCacheLimit = threadCacheLimit
        self.retainedPerKind = retainedPerKind
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { streams in
            guard let streams else { return }
            Unmanaged<ThreadStreams>.fromOpaque(streams).release()
        }
        // Fails only when the process has used up its thread-specific keys (1,024); one per pool.
        precondition(rc == 0, "pthread_key_create failed (\(rc))")
        self.key = key
    }

    // A thread's ThreadStreams holds its pool, so a pool lives as long as any thread keeps streams of it.
    deinit { pthread_key_delete(key) }

    /// Runs `body` with a stream borrowed from the process's pool; the stream goes back afterwards.
    static func withStream<R, E: Error>(
        _ direction: ZlibStream.Direction,
        _ body: (UnsafeMutablePointer<z_stream>) throws(E) -> R
    ) throws(E) -> R {
        try process.withStream(direction, body)
    }

    /// Runs `body` with the `z_stream` of a stream of this pool (``borrow(_:_:)``).
    func withStream<R, E: Error>(
        _ direction: ZlibStream.Direction,
        _ body: (UnsafeMutablePointer<z_stream>) throws(E) -> R
    ) throws(E) -> R {
        try borrow(direction) { (stream) throws(E) -> R in try body(stream.pointer) }
    }

    /// Runs `body` with a stream of this pool: the calling thread's own one when it has one, else a spare one.
    func borrow<R, E: Error>(
        _ direction: ZlibStream.Direction,
        _ body: (ZlibStream) throws(E) -> R
    ) throws(E) -> R {
        let kind = direction.kind
        let own = threadSlots()
        let stream = own?[kind].take() ?? takeSpare(kind) ?? ZlibStream(direction)
        defer {
            // A nested use of the same kind on this thread found the thread's slot empty and borrowed another
            // stream: that one is a spare.
            if let own, own[kind] == nil {
                own[kind] = stream
            } else {
                giveSpare(stream)
            }
        }
        return try body(stream)
    }

    /// The calling thread's stream slots (one per kind), created on its first use while fewer than
    /// ``threadCacheLimit`` threads hold some; `nil` for a thread beyond the limit.
    private func threadSlots() -> UnsafeMutablePointer<ZlibStream?>? {
        if let existing = pthread_getspecific(key) {
            // The thread-specific slot holds a reference until the thread ends: no retain needed to read it.
            return Unmanaged<ThreadStreams>.fromOpaque(existing)._withUnsafeGuaranteedRef { $0.slots }
        }
        guard threadCaches.load(ordering: .relaxed) < threadCacheLimit else { return nil }
        guard threadCaches.wrappingAdd(1, ordering: .relaxed).oldValue < threadCacheLimit else {
            threadCaches.wrappingSubtract(1, ordering: .relaxed)
            return nil
        }
        let streams = ThreadStreams(pool: self)
        let raw = Unmanaged.passRetained(streams).toOpaque()
        guard pthread_setspecific(key, raw) == 0 else {
            Unmanaged<ThreadStreams>.fromOpaque(raw).release()
            return nil
        }
        return streams.slots
    }

    private func takeSpare(_ kind: Int) -> ZlibStream? {
        spares.withLock { $0[kind].popLast() }
    }

    fileprivate func giveSpare(_ stream: ZlibStream) {
        spares.withLock {
            if $0[stream.direction.kind].count < retainedPerKind { $0[stream.direction.kind].append(stream) }
        }
    }

    fileprivate func threadStreamsEnded() {
        threadCaches.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Threads that keep streams of their own now.
    var threadCacheCount: Int { threadCaches.load(ordering: .relaxed) }

    /// Spare streams of each kind now.
    var spareCounts: [Int] { spares.withLock { $0.map(\.count) } }
}

/// One thread's streams, at most one per kind: only that thread touches them (through its thread-specific
/// slot); when it ends, they go to the pool's spare lists.
private final class ThreadStreams {
    let pool: ZlibStreamPool
    /// One slot per kind. A buffer rather than an array property: a class's `var` would be checked for
    /// exclusive access at run time on every frame.
    let slots: UnsafeMutablePointer<ZlibStream?>

    init(pool: ZlibStreamPool) {
        self.pool = pool
        slots = .allocate(capacity: ZlibStream.Direction.kindCount)
        slots.initialize(repeating: nil, count: ZlibStream.Direction.kindCount)
    }

    deinit {
        for kind in 0..<ZlibStream.Direction.kindCount {
            if let stream = slots[kind].take() { pool.giveSpare(stream) }
        }
        slots.deinitialize(count: ZlibStream.Direction.kindCount)
        slots.deallocate()
        pool.threadStreamsEnded()
    }
}

extension ZlibStream.Direction {
    /// Kinds of stream: one per ``DeflateShape/all`` entry, then the inflater.
    static let kindCount = DeflateShape.all.count + 1

    /// This direction's index among the kinds.
    var kind: Int {
        switch self {
        case .deflate(let shape): shape.poolIndex
        case .inflate: DeflateShape.all.count
        }
    }
}

enum ProcessorCount {
    static let online: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
