import ArgumentParser
import Foundation
import Synchronization
import TTProtocol

/// `tt-bench idle-hold`: opens `--count` framework sessions (handshake and one Ping each) from the source
/// addresses 127.0.0.`--first-source` … in turn, keeps only their sockets (no codec), prints `READY COUNT` and
/// holds them until killed or `--hold` seconds pass. Several run side by side for more sessions than one
/// process may have descriptors.
struct IdleHold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle-hold",
        abstract: "Hold many idle sessions from several loopback source addresses."
    )

    @Option(help: "tt-server port on 127.0.0.1.") var port: UInt16
    @Option(help: "Sessions to open.") var count = 10_000
    @Option(help: "Source addresses to use, 127.0.0.FIRST upwards.") var sources = 4
    @Option(help: "The last byte of the first source address.") var firstSource = 2
    @Option(help: "Seconds to hold them at most.") var hold = 300.0
    @Option(help: "Seconds to spend opening them at most.") var openFor = 600.0

    func run() throws {
        raiseOpenFileLimit()
        guard sources >= 1, firstSource >= 2, firstSource + sources <= 255 else {
            throw BenchError.failed("--first-source and --sources must name addresses in 127.0.0.2-254")
        }
        var sockets: [Socket] = []
        sockets.reserveCapacity(count)
        let deadline = Date(timeIntervalSinceNow: openFor)
        for index in 0..<count {
            guard Date() < deadline else { throw BenchError.failed("opened only \(index) in \(openFor) s") }
            let source = UInt8(firstSource + index % sources)
            let socket = try Socket.connectLoopback(port: port, timeout: 60, source: source)
            let handshake = ClientHandshake()
            try socket.writeAll(handshake.hello)
            let (keys, _) = try handshake.finish(serverHello: socket.readExactly(Handshake.serverHelloSize))
            let codec = try PacketCodec(keys: keys)
            try socket.writeAll(codec.encode(.request(RequestPacket(function: .ping))))
            let header = try codec.decodeHeader(socket.readExactly(FrameHeader.size))
            _ = try socket.readExactly(header.length)
            sockets.append(socket)
        }
        announce("READY \(sockets.count)")
        Thread.sleep(forTimeInterval: hold)
        withExtendedLifetime(sockets) {}
    }
}

/// `tt-bench ping-percentiles`: Ping round trips on one session, `rtt.p50_us` and `rtt.p99_us`.
struct PingPercentiles: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping-percentiles",
        abstract: "Ping round-trip median and 99th percentile."
    )

    @Option(help: "tt-server port on 127.0.0.1.") var port: UInt16
    @Option(help: "Pings measured (after 10% warm-up).") var count = 2000

    func run() throws {
        let session = try FrameworkSession(port: port, timeout: 30)
        var samples: [Double] = []
        for index in 0..<(count + count / 10) {
            let seconds = try Measure.seconds { try session.ping() }
            if index >= count / 10 { samples.append(seconds) }
        }
        samples.sort()
        Measure.report("rtt.p50_us", samples[samples.count / 2] * 1e6)
        Measure.report("rtt.p99_us", samples[min(samples.count - 1, samples.count * 99 / 100)] * 1e6)
    }
}

/// `tt-bench handshake-rate`: complete handshakes per second (connect, key exchange and identity check, close)
/// from `--clients` threads for `--seconds`.
struct HandshakeRate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "handshake-rate",
        abstract: "Handshakes per second: connect, key exchange, close."
    )

    @Option(help: "tt-server port on 127.0.0.1.") var port: UInt16
    @Option(help: "Concurrent clients, one thread each.") var clients = 1
    @Option(help: "Seconds of load.") var seconds = 5.0
    @Option(help: "Source addresses to spread connections over (TIME_WAIT uses ports).") var sources = 8

    func run() throws {
        let done = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let finished = DispatchGroup()
        let start = ContinuousClock.now
        let end = start + .nanoseconds(Int64(seconds * 1e9))
        var threads = ClientThreads()
        for client in 0..<clients {
            finished.enter()
            try threads.start { [port, sources] in
                defer { finished.leave() }
                var index = client
                while ContinuousClock.now < end {
                    do {
                        let socket = try Socket.connectLoopback(
                            port: port,
                            timeout: 30,
                            source: UInt8(2 + index % sources)
                        )
                        let handshake = ClientHandshake()
                        try socket.writeAll(handshake.hello)
                        _ = try handshake.finish(serverHello: socket.readExactly(Handshake.serverHelloSize))
                        done.add(1, ordering: .relaxed)
                    } catch {
                        failure.withLock { $0 = $0 ?? "\(error)" }
                        return
                    }
                    index += clients
                }
            }
        }
        guard finished.wait(timeout: .now() + seconds + 60) == .success else {
            throw BenchError.failed("clients did not finish within \(seconds + 60) s")
        }
        let elapsed = (ContinuousClock.now - start).seconds
        // Their threads' own OpenSSL teardown must end before exit (see ClientThreads).
        threads.join()
        if let failure = failure.withLock({ $0 }) { throw BenchError.failed(failure) }
        let count = done.load(ordering: .relaxed)
        Measure.report("handshakes", Double(count))
        Measure.report("handshakes_per_s", Double(count) / elapsed)
    }
}
