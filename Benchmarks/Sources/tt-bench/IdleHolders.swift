import ArgumentParser
import Foundation

/// `tt-bench idle-sessions`: opens `--count` framework sessions (handshake and one Ping each), prints
/// `READY COUNT` and holds them idle until killed or `--hold` seconds pass, so the harness can read the
/// server's VmRSS growth.
struct IdleSessions: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle-sessions", abstract: "Hold idle sessions.")

    @Option(help: "tt-server port on 127.0.0.1.") var port: UInt16
    @Option(help: "Sessions to open.") var count = 5000
    @Option(help: "Seconds to hold them at most.") var hold = 120.0

    func run() throws {
        raiseOpenFileLimit()
        var sessions: [FrameworkSession] = []
        sessions.reserveCapacity(count)
        for _ in 0..<count {
            let session = try FrameworkSession(port: port, timeout: 30)
            try session.ping()
            sessions.append(session)
        }
        announce("READY \(sessions.count)")
        Thread.sleep(forTimeInterval: hold)
        withExtendedLifetime(sessions) {}
    }
}

/// `tt-bench idle-tunnels`: starts a target that accepts and holds connections, opens `--count` CONNECT tunnels
/// to it through the proxy on `--proxy-port`, checks each got a 2xx and reached the target, prints
/// `READY COUNT` and holds them idle until killed or `--hold` seconds pass.
struct IdleTunnels: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle-tunnels", abstract: "Hold idle tunnels.")

    @Option(help: "CONNECT proxy port on 127.0.0.1.") var proxyPort: UInt16
    @Option(help: "Tunnels to open.") var count = 5000
    @Option(help: "Seconds to hold them at most.") var hold = 120.0

    func run() throws {
        raiseOpenFileLimit()
        let (listener, targetPort) = try Socket.listenLoopback()
        var tunnels: [Socket] = []
        var targets: [Socket] = []
        tunnels.reserveCapacity(count)
        targets.reserveCapacity(count)
        let request = Array("CONNECT 127.0.0.1:\(targetPort) HTTP/1.1\r\nHost: 127.0.0.1:\(targetPort)\r\n\r\n".utf8)
        for index in 0..<count {
            let tunnel = try Socket.connectLoopback(port: proxyPort, timeout: 30)
            try tunnel.writeAll(request)
            let head = try Self.readHead(tunnel)
            guard head.hasPrefix("HTTP/1."), head.dropFirst(9).hasPrefix("2") else {
                throw BenchError.failed("tunnel \(index): proxy answered \(head.prefix(40))")
            }
            // The proxy dials the target only now: one byte through proves this tunnel is whole.
            let target = try listener.accept(timeout: 30)
            try tunnel.writeAll([0x2A])
            guard try target.readExactly(1) == [0x2A] else { throw BenchError.failed("tunnel \(index) lost a byte") }
            tunnels.append(tunnel)
            targets.append(target)
        }
        announce("READY \(tunnels.count)")
        Thread.sleep(forTimeInterval: hold)
        withExtendedLifetime((tunnels, targets)) {}
    }

    /// The proxy's answer up to the blank line (one byte at a time: no tunnel byte may be consumed).
    private static func readHead(_ socket: Socket) throws -> String {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard head.count < 16 << 10, try socket.readSome(&byte, 1) == 1 else {
                throw BenchError.failed("proxy answer ended or grew past 16 KiB")
            }
            head.append(byte)
        }
        return String(decoding: head, as: UTF8.self)
    }
}
