import Foundation
import Glibc

/// Runs blocking socket work on a thread of its own, so tests never block Swift's cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

struct RawClientError: Error, CustomStringConvertible {
    var description: String
}

/// How a read ended.
enum StreamEnd: Equatable {
    case eof, reset, timeout
}

/// A plain TCP client on a non-blocking socket with poll-based deadlines: what a CONNECT client sees, raw.
final class RawClient {
    private let fd: Int32

    /// Connects to `host` (an IPv4 or IPv6 literal) and `port`.
    /// - Parameter localAddress: an IPv4 address to connect from (any of 127/8 is loopback: a test can be many
    ///   peers).
    init(host: String = "127.0.0.1", port: Int, from localAddress: String? = nil) throws {
        let isV6 = host.contains(":")
        fd = socket(isV6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawClientError(description: "socket: \(errno)") }
        if let localAddress, !isV6 {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, localAddress, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else {
                // Not closed here: `fd` is set, so a throw from here on runs deinit, which closes it. A second
                // close would close whatever descriptor another test had opened under the same number meanwhile.
                throw RawClientError(description: "bind \(localAddress): \(errno)")
            }
        }
        var result: Int32
        if isV6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, host, &address.sin6_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard result == 0 else {
            let code = errno
            throw RawClientError(description: "connect to \(host):\(port): \(String(cString: strerror(code)))")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Writes everything, waiting (bounded) while the socket is full.
    func send(_ bytes: [UInt8], timeout: Duration = .seconds(10)) throws {
        let deadline = ContinuousClock.now + timeout
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
            } else if errno == EAGAIN {
                guard wait(events: Int16(POLLOUT), until: deadline) else {
                    throw RawClientError(description: "send timed out")
                }
            } else {
                throw RawClientError(description: "send: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Writes `chunk` up to `times` times; returns how many bytes went out before the socket stayed full for
    /// `stall` (or everything was written).
    func sendUntilStalled(_ chunk: [UInt8], times: Int, stall: Duration) -> Int {
        var sent = 0
        for _ in 0..<times {
            var offset = 0
            while offset < chunk.count {
                let written = chunk[offset...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
                if written > 0 {
                    offset += written
                    sent += written
                } else if errno != EAGAIN || !wait(events: Int16(POLLOUT), until: ContinuousClock.now + stall) {
                    return sent
                }
            }
        }
        return sent
    }

    /// Sends `before`, then `urgent` as TCP urgent data (MSG_OOB), then `after`, corked into one segment so that
    /// all of it waits in the peer's socket at once, the urgent mark in the middle.
    func sendAroundUrgentByte(_ before: [UInt8], urgent: UInt8, _ after: [UInt8]) throws {
        var on: Int32 = 1
        var off: Int32 = 0
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &on, socklen_t(MemoryLayout<Int32>.size))
        try send(before)
        var byte = urgent
        guard Glibc.send(fd, &byte, 1, Int32(MSG_OOB | MSG_NOSIGNAL)) == 1 else {
            throw RawClientError(description: "send MSG_OOB: \(String(cString: strerror(errno)))")
        }
        try send(after)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &off, socklen_t(MemoryLayout<Int32>.size))
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Makes the close (when this client goes) send a reset instead of an end (SO_LINGER 0).
    func resetOnClose() {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    private func wait(events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { return false }
        let milliseconds = Int32(
            remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1
        )
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    /// One read: bytes, or how the stream ended.
    func readSome(timeout: Duration = .seconds(10)) -> Result<[UInt8], StreamEndError> {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return .success(Array(buffer.prefix(count))) }
            if count == 0 { return .failure(StreamEndError(end: .eof)) }
            if errno == ECONNRESET { return .failure(StreamEndError(end: .reset)) }
            guard errno == EAGAIN, wait(events: Int16(POLLIN), until: deadline) else {
                return .failure(StreamEndError(end: errno == EAGAIN ? .timeout : .reset))
            }
        }
    }

    /// Reads until the stream ends (or the timeout); returns everything and how it ended.
    func readToEnd(timeout: Duration = .seconds(10)) -> (bytes: [UInt8], end: StreamEnd) {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while true {
            switch readSome(timeout: max(.zero, deadline - ContinuousClock.now)) {
            case .success(let chunk): bytes += chunk
            case .failure(let error): return (bytes, error.end)
            }
        }
    }

    /// Reads a response head (through the blank line); returns it and any bytes after it.
    func readHead(timeout: Duration = .seconds(10)) throws -> (head: String, rest: [UInt8]) {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while true {
            if let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
                return (String(decoding: bytes[..<end.upperBound], as: UTF8.self), Array(bytes[end.upperBound...]))
            }
            switch readSome(timeout: max(.zero, deadline - ContinuousClock.now)) {
            case .success(let chunk): bytes += chunk
            case .failure(let error):
                throw RawClientError(
                    description: "no response head (\(error.end)); got \(String(decoding: bytes, as: UTF8.self))"
                )
            }
        }
    }

    /// Reads exactly `count` bytes.
    func read(exactly count: Int, timeout: Duration = .seconds(10)) throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        var bytes: [UInt8] = []
        while bytes.count < count {
            switch readSome(timeout: max(.zero, deadline - ContinuousClock.now)) {
            case .success(let chunk): bytes += chunk
            case .failure(let error):
                throw RawClientError(description: "stream ended (\(error.end)) after \(bytes.count) of \(count) bytes")
            }
        }
        return bytes
    }

    /// Sends `payload` while reading the echo, then half-closes and reads to the end: no deadlock on big payloads.
    func exchange(
        _ payload: [UInt8],
        prefix: [UInt8] = [],
        timeout: Duration = .seconds(30)
    ) throws -> (bytes: [UInt8], end: StreamEnd) {
        let deadline = ContinuousClock.now + timeout
        var received = prefix
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var events = Int16(POLLIN)
            if offset < payload.count { events |= Int16(POLLOUT) }
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            _ = poll(&descriptor, 1, 100)
            if offset < payload.count, descriptor.revents & Int16(POLLOUT) != 0 {
                let written = payload[offset...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, min($0.count, 65536), Int32(MSG_NOSIGNAL))
                }
                if written > 0 { offset += written }
                if offset == payload.count { shutdownWrite() }
            }
            if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count > 0 {
                    received += buffer.prefix(count)
                } else if count == 0 {
                    return (received, .eof)
                } else if errno != EAGAIN {
                    return (received, .reset)
                }
            }
        }
        return (received, .timeout)
    }
}

struct StreamEndError: Error {
    var end: StreamEnd
}

/// A CONNECT request head for `target`, optionally with Basic credentials.
func connectRequest(_ target: String, user: String? = nil, password: String? = nil, extra: String = "") -> String {
    var request = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
    if let user, let password {
        request += "Proxy-Authorization: Basic \(Data("\(user):\(password)".utf8).base64EncodedString())\r\n"
    }
    return request + extra + "\r\n"
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
func testPayload(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    // A plain loop over the buffer: `map` with a closure is too slow in debug builds for many MiB.
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        for index in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            buffer[index] = UInt8(truncatingIfNeeded: state)
        }
        initialized = count
    }
}

/// The status line of a response head.
func statusLine(_ head: String) -> String {
    String(head.prefix { $0 != "\r\n" && $0 != "\n" })
}
