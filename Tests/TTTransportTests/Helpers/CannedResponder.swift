import Foundation
import Synchronization
import TTTestSupport

/// A fake proxy on 127.0.0.1: reads one request head per connection and answers with fixed bytes, then
/// closes, resets or holds the connection. For the failure cases real proxies cannot be made to produce.
final class CannedResponder: Sendable {
    enum Ending: Sendable {
        /// Close normally after writing.
        case close
        /// Reset (RST) after writing.
        case reset
        /// Keep the connection open until the responder stops.
        case holdOpen
        /// Read the next request head on the same connection and answer it the same way, up to 4 heads, then
        /// close: for a client that answers a 407 challenge on the connection it has.
        case keepAnswering
    }

    let port: Int
    private let listener: Int32
    private let stopped = Mutex(false)
    private let requests = Mutex<[String]>([])

    /// Starts answering every connection with `reply` (nothing at all when empty) followed by `ending`.
    /// - Parameter waitForRequest: read the request head before replying (`false` answers at once).
    init(reply: [UInt8], ending: Ending = .close, waitForRequest: Bool = true) throws {
        (listener, port) = try bindLoopback(listenBacklog: 16)
        let thread = Thread { [self] in serve(reply: reply, ending: ending, waitForRequest: waitForRequest) }
        thread.start()
    }

    /// Request heads received so far (to assert on the CONNECT line and headers).
    var receivedRequests: [String] { requests.withLock { $0 } }

    func stop() {
        stopped.withLock { $0 = true }
    }

    private var isStopped: Bool { stopped.withLock { $0 } }

    private func serve(reply: [UInt8], ending: Ending, waitForRequest: Bool) {
        var held: [Int32] = []
        defer {
            for fd in held { close(fd) }
            close(listener)
        }
        // Bounded: a test stops the responder, and no test runs for longer than this.
        let giveUp = ContinuousClock.now + .seconds(120)
        while !isStopped, ContinuousClock.now < giveUp {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            if waitForRequest {
                let head = readHead(client)
                requests.withLock { $0.append(head) }
            }
            send(reply, to: client)
            if case .keepAnswering = ending {
                for _ in 1..<4 {
                    let head = readHead(client)
                    guard !head.isEmpty else { break }
                    requests.withLock { $0.append(head) }
                    send(reply, to: client)
                }
            }
            switch ending {
            case .close, .keepAnswering:
                close(client)
            case .reset:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                close(client)
            case .holdOpen:
                held.append(client)
            }
        }
    }

    private func send(_ reply: [UInt8], to client: Int32) {
        var offset = 0
        while offset < reply.count {
            let written = reply[offset...].withUnsafeBytes {
                Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written <= 0 { break }
            offset += written
        }
    }

    /// Reads until the blank line that ends an HTTP head (bounded in size and time).
    private func readHead(_ fd: Int32) -> String {
        var head: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(10)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while head.count < 64 * 1024, ContinuousClock.now < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            head += buffer[..<count]
            if head.count >= 4, Array(head.suffix(4)) == Array("\r\n\r\n".utf8) { break }
        }
        return String(decoding: head, as: UTF8.self)
    }
}

struct CannedResponderError: Error, CustomStringConvertible {
    var description: String
}
