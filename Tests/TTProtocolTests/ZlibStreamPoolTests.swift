import CZlib
import Dispatch
import Glibc
import Synchronization
import Testing

@testable import TTProtocol

/// The stream pool's per-thread streams, on pools of the tests' own (the process's pool is shared with every
/// other test running at the same time). Threads are joined, so their thread-specific destructors have run
/// when a test looks at the pool after them.
@Suite("Zlib stream pool")
struct ZlibStreamPoolTests {
    private let inflater = ZlibStream.Direction.inflate.kind

    @Test("A thread reuses its own stream; a nested use of the same kind borrows another one")
    func threadReusesItsStream() {
        let pool = ZlibStreamPool(threadCacheLimit: 4, retainedPerKind: 4)
        let seen = Mutex<[String]>([])
        onJoinedThreads(1) { _ in
            let first = pool.withStream(.inflate) { Int(bitPattern: $0) }
            let second = pool.withStream(.inflate) { Int(bitPattern: $0) }
            let nested = pool.withStream(.inflate) { outer in
                pool.withStream(.inflate) { inner in (Int(bitPattern: outer), Int(bitPattern: inner)) }
            }
            let standard = pool.withStream(.deflate(.standard)) { Int(bitPattern: $0) }
            seen.withLock {
                $0.append(first == second ? "reused" : "not reused")
                $0.append(nested.0 == first ? "outer is own" : "outer is not own")
                $0.append(nested.1 != first ? "inner is another" : "inner is own")
                $0.append(standard != first ? "deflater apart" : "deflater shared")
                $0.append("caches \(pool.threadCacheCount)")
            }
        }
        #expect(
            seen.withLock { $0 }
                == ["reused", "outer is own", "inner is another", "deflater apart", "caches 1"]
        )
        // The thread ended: its inflater and deflater are spares now, next to the nested one.
        #expect(pool.threadCacheCount == 0)
        #expect(pool.spareCounts[inflater] == 2)
        #expect(pool.spareCounts[ZlibStream.Direction.deflate(.standard).kind] == 1)
    }

    @Test("A thread's stream serves another thread after the first one ended, and still inflates correctly")
    func streamMovesToAnotherThread() throws {
        let pool = ZlibStreamPool(threadCacheLimit: 4, retainedPerKind: 4)
        let compressed = GzipCodec().compress(recordLikeBytes(50_000, seed: 3))
        let pointers = Mutex<[Int]>([])
        let outputs = Mutex<[[UInt8]]>([])
        for _ in 0..<2 {
            onJoinedThreads(1) { _ in
                let (pointer, output) = pool.withStream(.inflate) { stream in
                    (Int(bitPattern: stream), inflateAll(stream, compressed))
                }
                pointers.withLock { $0.append(pointer) }
                outputs.withLock { $0.append(output) }
            }
        }
        let used = pointers.withLock { $0 }
        #expect(used.count == 2 && used[0] == used[1], "the second thread did not get the first one's stream")
        #expect(outputs.withLock { $0 } == [recordLikeBytes(50_000, seed: 3), recordLikeBytes(50_000, seed: 3)])
        #expect(pool.spareCounts[inflater] == 1)
    }

    @Test("At most threadCacheLimit threads keep streams, the spare pool keeps at most retainedPerKind")
    func boundedStreams() {
        let pool = ZlibStreamPool(threadCacheLimit: 2, retainedPerKind: 1)
        let threads = 5
        let used = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let waited = Mutex<[Bool]>([])
        let running = startThreads(threads) { _ in
            pool.withStream(.inflate) { _ in }
            used.signal()
            let released = release.wait(timeout: .now() + 30) == .success
            waited.withLock { $0.append(released) }
        }
        // Every thread has used a stream and is still alive: count the threads that keep one, then end them.
        var allUsed = true
        for _ in 0..<threads { allUsed = allUsed && used.wait(timeout: .now() + 30) == .success }
        let cachesWhileAlive = pool.threadCacheCount
        for _ in 0..<threads { release.signal() }
        join(running)
        #expect(allUsed)
        #expect(cachesWhileAlive == 2)
        #expect(waited.withLock { $0 } == Array(repeating: true, count: threads))
        #expect(pool.threadCacheCount == 0)
        #expect(pool.spareCounts[inflater] == 1)
    }
}

/// The memo of a deflate stream's last small inputs (`CZlib_DeflateMemo`): a repeat is copied, byte for byte what
/// deflate makes, and only packets without payload (no secret) enter it.
@Suite("Deflate memo")
struct DeflateMemoTests {
    private static let ping = Packet.request(RequestPacket(function: .ping))
    private static let pingBytes = Self.ping.parts.header

    @Test("A repeated small input comes from the memo, the same bytes as deflating it; the oldest makes room")
    func repeatsComeFromMemo() {
        let answer = [UInt8](repeating: 7, count: 19)
        let large = [UInt8](repeating: 9, count: 33)
        let others = (1...3).map { [UInt8](repeating: UInt8($0), count: 11) }
        let stream = ZlibStream(.deflate(DeflateShape.forInput(large.count)))
        let plain = stream.deflate([Self.pingBytes], memo: false)
        let plainAnswer = stream.deflate([answer], memo: false)
        let plainLarge = stream.deflate([large], memo: false)
        let plainOthers = others.map { stream.deflate([$0], memo: false) }
        #expect(stream.memo!.pointee.hits == 0 && stream.memoInputs == [])

        #expect(stream.deflate([Self.pingBytes], memo: true) == plain)
        // Split otherwise: the memo compares the joined input.
        #expect(
            stream.deflate([Array(Self.pingBytes.prefix(4)), Array(Self.pingBytes.dropFirst(4))], memo: true) == plain
        )
        #expect(stream.deflate([answer], memo: true) == plainAnswer)
        #expect(stream.deflate([answer, []], memo: true) == plainAnswer)
        #expect(stream.deflate([Self.pingBytes], memo: true) == plain)
        #expect(stream.memo!.pointee.hits == 3)
        // Over CZLIB_MEMO_INPUT_MAX (32 bytes): deflated every time, never kept.
        #expect(stream.deflate([large], memo: true) == plainLarge)
        #expect(stream.deflate([large], memo: true) == plainLarge)
        // Without the memo asked for, it is neither read nor filled.
        #expect(stream.deflate([others[0]], memo: false) == plainOthers[0])
        #expect(stream.memo!.pointee.hits == 3 && stream.memoInputs == [Self.pingBytes, answer])
        // Three more inputs: the fifth replaces the oldest (the Ping), which is deflated again when it comes back.
        for (index, other) in others.enumerated() { #expect(stream.deflate([other], memo: true) == plainOthers[index]) }
        #expect(stream.memoInputs == [others[2], answer, others[0], others[1]])
        #expect(stream.deflate([Self.pingBytes], memo: true) == plain)
        #expect(
            stream.memo!.pointee.hits == 3 && stream.memoInputs == [others[2], Self.pingBytes, others[0], others[1]]
        )
    }

    @Test("Only packets without payload may enter the memo, never one with a payload (a Login's password)")
    func onlyPacketsWithoutPayload() throws {
        let login = RequestPacket(function: .login, payload: try LoginPayload(user: "u", password: "pw").serialize())
        #expect(Self.ping.mayBeMemoized)
        #expect(Packet.response(ResponsePacket(rc: .requestOK)).mayBeMemoized)
        #expect(Packet.response(ResponsePacket(rc: .badRequest)).mayBeMemoized)
        #expect(!Packet.request(login).mayBeMemoized)
        // Small enough for the memo: only the rule above keeps it out.
        #expect(Packet.request(login).serialize().count <= 32)
        #expect(!Packet.request(RequestPacket(function: .echo, payload: [1])).mayBeMemoized)
        #expect(!Packet.response(ResponsePacket(rc: .requestOK, count: 1, payload: [1])).mayBeMemoized)
    }
}

extension ZlibStream {
    /// The inputs its memo keeps, entry by entry (unused entries left out).
    fileprivate var memoInputs: [[UInt8]] {
        withUnsafeBytes(of: memo!.pointee.entries) { raw in
            raw.bindMemory(to: CZlib_DeflateMemoEntry.self).filter { $0.inputLength > 0 }.map { entry in
                withUnsafeBytes(of: entry.input) { Array($0.prefix(entry.inputLength)) }
            }
        }
    }

    /// Deflates `parts` as one gzip member with this stream, through its memo or not.
    fileprivate func deflate(_ parts: [[UInt8]], memo useMemo: Bool) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 256)
        var written = 0
        let rc = output.withUnsafeMutableBufferPointer { output in
            withPointers(parts) { pointers, lengths in
                CZlib_deflateMember(
                    pointer,
                    0,
                    useMemo ? memo : nil,
                    pointers,
                    lengths,
                    parts.count,
                    output.baseAddress,
                    output.count,
                    &written
                )
            }
        }
        return rc == Z_OK ? Array(output.prefix(written)) : []
    }
}

/// Runs `body` with C arrays of the parts' base addresses and lengths (valid for the whole call).
private func withPointers<R>(
    _ parts: [[UInt8]],
    _ body: (UnsafePointer<UnsafePointer<UInt8>?>, UnsafePointer<Int>) -> R
) -> R {
    let copies = parts.map { part in
        let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, part.count))
        copy.initialize(from: part, count: part.count)
        return copy
    }
    defer { for copy in copies { copy.deallocate() } }
    let pointers = copies.map { UnsafePointer<UInt8>?($0) }
    let lengths = parts.map(\.count)
    return pointers.withUnsafeBufferPointer { pointers in
        lengths.withUnsafeBufferPointer { lengths in body(pointers.baseAddress!, lengths.baseAddress!) }
    }
}

/// Runs `body(index)` on `count` new threads and returns when all of them have ended, thread-specific
/// destructors included (what `pthread_join` waits for).
private func onJoinedThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    join(startThreads(count, body))
}

/// Starts `body(index)` on `count` new joinable threads.
private func startThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> [pthread_t] {
    var threads: [pthread_t] = []
    for index in 0..<count {
        let context = Unmanaged.passRetained(ThreadBody { body(index) }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread,
            nil,
            { raw in
                Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            },
            context
        )
        guard rc == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            Issue.record("pthread_create failed (\(rc))")
            continue
        }
        threads.append(thread)
    }
    return threads
}

private func join(_ threads: [pthread_t]) {
    for thread in threads { pthread_join(thread, nil) }
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Inflates a whole single-member gzip `input` with `stream` (reset first), as GzipCodec does.
private func inflateAll(_ stream: UnsafeMutablePointer<z_stream>, _ input: [UInt8]) -> [UInt8] {
    guard inflateReset(stream) == Z_OK else { return [] }
    var input = input
    return input.withUnsafeMutableBufferPointer { input in
        stream.pointee.next_in = input.baseAddress
        stream.pointee.avail_in = uInt(input.count)
        var output = [UInt8](repeating: 0, count: 1 << 20)
        let rc = output.withUnsafeMutableBufferPointer { output in
            stream.pointee.next_out = output.baseAddress
            stream.pointee.avail_out = uInt(output.count)
            return inflate(stream, Z_FINISH)
        }
        return rc == Z_STREAM_END ? Array(output.prefix(Int(stream.pointee.total_out))) : []
    }
}
