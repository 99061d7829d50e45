import ArgumentParser
import Foundation

import Glibc

/// `tt-bench echo-server`: a TCP echo server on 127.0.0.1 (one thread per connection), the raw baseline of
/// the ping round trip. Prints `READY PORT`; exits after `--lifetime` seconds at the latest.
struct EchoServer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "echo-server", abstract: "TCP echo server.")

    @Option(help: "Seconds before the server exits on its own.")
    var lifetime = 300.0

    func run() throws {
        let (listener, port) = try Socket.listenLoopback()
        announce("READY \(port)")
        let deadline = Date(timeIntervalSinceNow: lifetime)
        Thread.detachNewThread {
            Thread.sleep(until: deadline)
            Glibc.exit(0)
        }
        while true {
            let socket = try listener.accept(timeout: lifetime)
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 64 << 10)
                while let n = try? buffer.withUnsafeMutableBytes({ try socket.readSome($0.baseAddress!, $0.count) }),
                    n > 0
                {
                    guard (try? buffer.withUnsafeBytes({ try socket.writeAll($0.baseAddress!, n) })) != nil else {
                        return
                    }
                }
            }
        }
    }
}

/// `tt-bench echo-rtt`: the median round trip of `--size` bytes through a TCP echo server.
struct EchoRoundTrip: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "echo-rtt", abstract: "TCP echo round trips.")

    @Option(help: "Echo server port on 127.0.0.1.") var port: UInt16
    @Option(help: "Bytes per round trip (default: one Ping frame).") var size = FrameworkSession.pingFrameSize
    @Option(help: "Round trips measured (after 10% warm-up).") var count = 2000

    func run() throws {
        let socket = try Socket.connectLoopback(port: port, timeout: 10)
        let message = [UInt8](repeating: 0x2A, count: size)
        var reply = [UInt8](repeating: 0, count: size)
        var samples: [Double] = []
        for index in 0..<(count + count / 10) {
            let seconds = try Measure.seconds {
                try socket.writeAll(message)
                try reply.withUnsafeMutableBytes { try socket.readExactly($0.baseAddress!, size) }
            }
            if index >= count / 10 { samples.append(seconds) }
        }
        Measure.report("rtt.median_us", Measure.median(samples) * 1e6)
    }
}

/// `tt-bench ping-rtt`: the median Ping round trip on one framework session, straight on TTProtocol.
struct PingRoundTrip: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping-rtt", abstract: "Framework Ping round trips.")

    @Option(help: "tt-server port on 127.0.0.1.") var port: UInt16
    @Option(help: "Pings measured (after 10% warm-up).") var count = 2000

    func run() throws {
        let session = try FrameworkSession(port: port, timeout: 10)
        var samples: [Double] = []
        for index in 0..<(count + count / 10) {
            let seconds = try Measure.seconds { try session.ping() }
            if index >= count / 10 { samples.append(seconds) }
        }
        Measure.report("rtt.median_us", Measure.median(samples) * 1e6)
    }
}
