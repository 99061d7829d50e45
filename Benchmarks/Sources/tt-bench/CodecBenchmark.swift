import ArgumentParser
import CRawCodec
import Synchronization
import TTProtocol

/// `tt-bench codec`: PacketCodec encode/decode throughput against the raw C loop, on the same record-like
/// packets and the same keys. Swift and C runs alternate within each repetition so machine noise hits both;
/// throughputs are the best repetition, ratios the median of the back-to-back pairs. Single-threaded loops are timed in thread CPU time (the
/// machine is shared), the parallel 4 MiB encode and its single-threaded C baseline in wall-clock time.
struct CodecBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "PacketCodec vs a raw C zlib + OpenSSL loop (64 KiB frames, 4 MiB parallel encode)."
    )

    @Option(help: "Repetitions of every measurement; the best one counts.")
    var repetitions = 5

    @Option(help: "64 KiB frames encoded per repetition.")
    var encodeFrames = 60

    @Option(help: "64 KiB frames decoded per repetition.")
    var decodeFrames = 600

    @Option(help: "4 MiB packets encoded per repetition.")
    var largeFrames = 2

    @Option(help: "Threads of the `threads` part, each sealing and opening Pings with codecs of its own.")
    var threads = 16

    @Option(help: "Comma-separated parts to run: encode, decode, large, ping, threads (all by default).")
    var parts = "encode,decode,large,ping,threads"

    func validate() throws {
        guard repetitions > 0, encodeFrames > 0, decodeFrames > 0, largeFrames > 0, (1...256).contains(threads) else {
            throw ValidationError("repetitions and frame counts must be positive, threads 1 to 256")
        }
    }

    func run() throws {
        let client = ClientHandshake()
        let (serverHello, serverKeys) = try ServerHandshake(identity: .generate()).respond(to: client.hello)
        let (clientKeys, _) = try client.finish(serverHello: serverHello)
        let keys = KeyPair(client: clientKeys, server: serverKeys)

        let selected = Set(parts.split(separator: ",").map(String.init))
        let small = try Workload(payloadSize: 64 << 10, keys: keys)
        try small.checkSameFrames()
        Measure.report("codec.compression_ratio.64k", small.compressionRatio)
        if selected.contains("encode") {
            try compareEncode(small)
        }
        if selected.contains("decode") {
            try compareDecode(small)
        }
        if selected.contains("ping") {
            try measurePing(keys)
        }
        if selected.contains("threads") {
            try measurePingThreads(keys)
        }
        if selected.contains("large") {
            try compareLarge(Workload(payloadSize: 4 << 20, keys: keys))
        }
    }

    private func compareEncode(_ small: Workload) throws {
        let encode = try small.compareEncode(frames: encodeFrames, repetitions: repetitions)
        Measure.report("codec.encode.64k.mb_s", encode.swift)
        Measure.report("codec.encode.64k.raw_c.mb_s", encode.rawC)
        Measure.report("codec.encode.64k/raw_c", encode.ratio)
    }

    private func compareDecode(_ small: Workload) throws {

        let decode = try small.compareDecode(frames: decodeFrames, repetitions: repetitions)
        Measure.report("codec.decode.64k.mb_s", decode.swift)
        Measure.report("codec.decode.64k.raw_c.mb_s", decode.rawC)
        Measure.report("codec.decode.64k/raw_c", decode.ratio)
    }

    /// The codec's share of one Ping round trip: the client seals a Ping, the server opens it and seals the
    /// answer, the client opens that (four codec operations, no I/O), in microseconds.
    private func measurePing(_ keys: KeyPair) throws {
        let client = try PacketCodec(keys: keys.client)
        let server = try PacketCodec(keys: keys.server)
        let ping = Packet.request(RequestPacket(function: .ping))
        let answer = Packet.response(ResponsePacket(rc: .requestOK))
        let count = 2000
        var best = Double.infinity
        for _ in 0..<repetitions {
            best = min(
                best,
                try Measure.cpuSeconds {
                    for _ in 0..<count {
                        _ = try server.decode(frame: client.encode(ping))
                        _ = try client.decode(frame: server.encode(answer))
                    }
                }
            )
        }
        Measure.report("codec.ping_round_trip_us", best / Double(count) * 1e6)
    }

    /// The same Ping round trips on ``threads`` threads at once, each with codecs of its own (as a server's event
    /// loops or a multi-thread client): the process's CPU (every thread) per round trip, in microseconds, the
    /// median and the worst of the repetitions (lock convoys come and go between repetitions, so the best one
    /// would hide them). What the process-wide parts of the codec (the zlib stream pool) cost when every thread
    /// takes and returns streams at the same time.
    private func measurePingThreads(_ keys: KeyPair) throws {
        let perThread = 1000
        let failures = Atomic<Int>(0)
        var perRoundTrip: [Double] = []
        for _ in 0..<repetitions {
            let start = Measure.processCPUTime()
            var running = ClientThreads()
            for _ in 0..<threads {
                try running.start {
                    do {
                        let client = try PacketCodec(keys: keys.client)
                        let server = try PacketCodec(keys: keys.server)
                        let ping = Packet.request(RequestPacket(function: .ping))
                        let answer = Packet.response(ResponsePacket(rc: .requestOK))
                        for _ in 0..<perThread {
                            _ = try server.decode(frame: client.encode(ping))
                            _ = try client.decode(frame: server.encode(answer))
                        }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
            running.join()
            perRoundTrip.append((Measure.processCPUTime() - start) / Double(perThread * threads) * 1e6)
        }
        guard failures.load(ordering: .relaxed) == 0 else { throw ValidationError("a codec thread failed") }
        Measure.report("codec.ping_round_trip_us.threads", Measure.median(perRoundTrip))
        Measure.report("codec.ping_round_trip_us.threads.max", perRoundTrip.max()!)
    }

    private func compareLarge(_ large: Workload) throws {
        let parallel = try large.compareEncode(frames: largeFrames, repetitions: repetitions, wallClock: true)
        let single = try large.swiftEncode(
            frames: largeFrames,
            repetitions: repetitions,
            gzip: GzipCodec(parallelThreshold: .max),
            wallClock: true
        )
        Measure.report("codec.encode.4m.mb_s", parallel.swift)
        Measure.report("codec.encode.4m.swift_single.mb_s", single)
        Measure.report("codec.encode.4m.raw_c_single.mb_s", parallel.rawC)
        Measure.report("codec.encode.4m/raw_c_single", parallel.ratio)
        Measure.report("codec.compression_ratio.4m", large.compressionRatio)
    }
}

/// Both sides' keys of one handshake.
struct KeyPair: Sendable {
    let client: SessionKeys
    let server: SessionKeys
}

/// One packet size: the Swift codec and the raw C codec over the same packet bytes.
struct Workload {
    let payload: [UInt8]
    let packet: Packet
    let packetBytes: [UInt8]
    let keys: KeyPair

    init(payloadSize: Int, keys: KeyPair) throws {
        payload = RecordLike.bytes(payloadSize)
        packet = .request(RequestPacket(function: .echo, payload: payload))
        packetBytes = packet.serialize()
        self.keys = keys
    }

    var compressionRatio: Double {
        let frame = try! PacketCodec(keys: keys.client).encode(packet)
        return Double(packetBytes.count) / Double(frame.count)
    }

    /// Frame 0 must come out byte for byte the same from both codecs, or the comparison is meaningless.
    func checkSameFrames() throws {
        let swiftFrame = try PacketCodec(keys: keys.client).encode(packet)
        let raw = try RawCodec(keys.client)
        let rawFrame = raw.encodeFrame(packetBytes, counter: 0)
        guard swiftFrame == rawFrame else {
            throw ValidationError(
                "the raw C frame differs from PacketCodec's (\(rawFrame.count) vs \(swiftFrame.count) bytes)"
            )
        }
    }

    /// Megabytes of payload per second, best of `repetitions`, Swift and C alternating.
    func compareEncode(frames: Int, repetitions: Int, wallClock: Bool = false) throws -> Comparison {
        let sender = try PacketCodec(keys: keys.client)
        let raw = try RawCodec(keys.client)
        var comparison = Comparison(bytes: Double(payload.count * frames))
        var produced = 0
        var counter: UInt64 = 0
        for _ in 0..<repetitions {
            let swift = try Measure.time(wallClock: wallClock) {
                for _ in 0..<frames { produced &+= try sender.encode(packet).count }
            }
            let rawC = try Measure.time(wallClock: wallClock) {
                let total = packetBytes.withUnsafeBufferPointer { packet in
                    CRawCodec_encodeLoop(raw.codec, packet.baseAddress, packet.count, counter, frames)
                }
                guard total > 0 else { throw ValidationError("raw C encode failed") }
                produced &+= total
            }
            comparison.add(swift: swift, rawC: rawC)
            counter += UInt64(frames)
        }
        precondition(produced > 0)
        return comparison
    }

    /// Swift encode alone with the given gzip settings: megabytes of payload per second, best of `repetitions`.
    func swiftEncode(frames: Int, repetitions: Int, gzip: GzipCodec, wallClock: Bool = false) throws -> Double {
        let sender = try PacketCodec(keys: keys.client, gzip: gzip)
        var best = Double.infinity
        var produced = 0
        for _ in 0..<repetitions {
            best = min(
                best,
                try Measure.time(wallClock: wallClock) {
                    for _ in 0..<frames { produced &+= try sender.encode(packet).count }
                }
            )
        }
        precondition(produced > 0)
        return Double(payload.count * frames) / best / 1e6
    }

    /// Both decoders open the very same frames (sealed once by PacketCodec); each repetition starts a fresh
    /// receiver at counter 0.
    func compareDecode(frames count: Int, repetitions: Int) throws -> Comparison {
        let sender = try PacketCodec(keys: keys.client)
        let frames = try FrameSet((0..<count).map { _ in try sender.encode(packet) })
        defer { frames.deallocate() }
        let raw = try RawCodec(keys.server)
        var comparison = Comparison(bytes: Double(payload.count * count))
        for _ in 0..<repetitions {
            let receiver = try PacketCodec(keys: keys.server)
            var received = 0
            let swift = try Measure.cpuSeconds {
                for frame in frames.buffers {
                    let header = try receiver.decodeHeader(Array(frame[0..<FrameHeader.size]))
                    let body = UnsafeRawBufferPointer(rebasing: frame[FrameHeader.size...])
                    if case .request(let request) = try receiver.decode(header: header, body: body) {
                        received += request.payload.count
                    }
                }
            }
            guard received == payload.count * count else { throw ValidationError("Swift decode lost bytes") }
            let rawC = try Measure.cpuSeconds {
                let total = CRawCodec_decodeLoop(
                    raw.codec,
                    frames.pointers,
                    frames.lengths,
                    0,
                    count,
                    RequestPacket.headerSize
                )
                guard total == payload.count * count else { throw ValidationError("raw C decode failed") }
            }
            comparison.add(swift: swift, rawC: rawC)
        }
        return comparison
    }
}

/// Swift and C timings of the same work, taken in adjacent pairs.
struct Comparison {
    let bytes: Double
    private(set) var swiftSeconds: [Double] = []
    private(set) var rawCSeconds: [Double] = []

    init(bytes: Double) { self.bytes = bytes }

    mutating func add(swift: Double, rawC: Double) {
        swiftSeconds.append(swift)
        rawCSeconds.append(rawC)
    }

    /// Megabytes per second of the best Swift repetition.
    var swift: Double { bytes / swiftSeconds.min()! / 1e6 }
    /// Megabytes per second of the best C repetition.
    var rawC: Double { bytes / rawCSeconds.min()! / 1e6 }
    /// Swift throughput over C throughput: the median over the pairs, each measured back to back, so a burst
    /// of load from other processes moves both sides of a pair instead of one best-of figure.
    var ratio: Double { Measure.median(zip(swiftSeconds, rawCSeconds).map { $1 / $0 }) }
}

/// Frames copied into plain C buffers, so the C loop and the Swift loop read the same memory.
struct FrameSet {
    let buffers: [UnsafeRawBufferPointer]
    let pointers: [UnsafePointer<UInt8>?]
    let lengths: [Int]

    init(_ frames: [[UInt8]]) throws {
        buffers = frames.map { frame in
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 16)
            copy.copyBytes(from: frame)
            return UnsafeRawBufferPointer(copy)
        }
        pointers = buffers.map { $0.baseAddress!.assumingMemoryBound(to: UInt8.self) }
        lengths = buffers.map(\.count)
    }

    func deallocate() {
        for buffer in buffers { buffer.deallocate() }
    }
}

/// The raw C codec for one side's keys.
final class RawCodec {
    let codec: OpaquePointer

    init(_ keys: SessionKeys) throws {
        guard let codec = CRawCodec_create(keys.sendKey, keys.sendIV, keys.receiveKey, keys.receiveIV) else {
            throw ValidationError("cannot create the raw C codec")
        }
        self.codec = codec
    }

    deinit { CRawCodec_destroy(codec) }

    func encodeFrame(_ packet: [UInt8], counter: UInt64) -> [UInt8] {
        var frame: UnsafeMutablePointer<UInt8>?
        let length = CRawCodec_encodeFrame(codec, packet, packet.count, counter, &frame)
        defer { CRawCodec_freeFrame(frame) }
        guard length > 0, let frame else { return [] }
        return Array(UnsafeBufferPointer(start: frame, count: length))
    }
}

/// Record-like text from the C generator, so every benchmark and the C baseline see the same bytes.
enum RecordLike {
    static func bytes(_ count: Int, seed: UInt32 = 1) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            CRawCodec_recordLike(buffer.baseAddress, count, seed)
            initialized = count
        }
    }
}
