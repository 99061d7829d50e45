import Glibc

/// Blocking loopback TCP sockets for the benchmark tools: only 127.0.0.1, port 0 read back, every read and
/// write bounded by a timeout.
final class Socket: Sendable {
    let fd: Int32

    /// Takes ownership of `fd`.
    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// A listener on 127.0.0.1 with a kernel-chosen port.
    static func listenLoopback(backlog: Int32 = 4096) throws -> (Socket, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError.system("socket") }
        let socket = Socket(fd: fd)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, backlog) == 0 else { throw BenchError.system("bind/listen on 127.0.0.1:0") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (socket, UInt16(bigEndian: address.sin_port))
    }

    /// Connects to 127.0.0.1:`port` with Nagle off and `timeout` on every later read and write; from the
    /// loopback address 127.0.0.`source` when given, so many connections do not exhaust one address's ports.
    static func connectLoopback(port: UInt16, timeout: Double, source: UInt8? = nil) throws -> Socket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError.system("socket") }
        let socket = Socket(fd: fd)
        socket.setTimeout(timeout)
        if let source {
            var local = loopback(port: 0)
            local.sin_addr.s_addr = (UInt32(0x7F00_0000) | UInt32(source)).bigEndian
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw BenchError.system("bind to 127.0.0.\(source)") }
        }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw BenchError.system("connect to 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    /// The next connection, with Nagle off and `timeout` on its reads and writes.
    func accept(timeout: Double) throws -> Socket {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw BenchError.system("accept") }
        let socket = Socket(fd: client)
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        socket.setTimeout(timeout)
        return socket
    }

    func setTimeout(_ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Up to `count` bytes; 0 at end of stream.
    func readSome(_ buffer: UnsafeMutableRawPointer, _ count: Int) throws -> Int {
        while true {
            let n = read(fd, buffer, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw BenchError.system(errno == EAGAIN ? "read timed out" : "read")
        }
    }

    func readExactly(_ buffer: UnsafeMutableRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = try readSome(buffer + done, count - done)
            guard n > 0 else { throw BenchError.failed("connection closed after \(done) of \(count) bytes") }
            done += n
        }
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readExactly($0.baseAddress!, count) }
        return bytes
    }

    func writeAll(_ buffer: UnsafeRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = write(fd, buffer + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError.system(errno == EAGAIN ? "write timed out" : "write")
            }
            done += n
        }
    }

    func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0.baseAddress!, $0.count) }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}

/// Why a benchmark tool could not measure.
enum BenchError: Error, CustomStringConvertible {
    case system(String, errno: Int32 = errno)
    case failed(String)

    var description: String {
        switch self {
        case .system(let what, let code): "\(what): \(String(cString: strerror(code)))"
        case .failed(let what): what
        }
    }
}

/// Lets this process hold thousands of sockets (tunnels hold two each).
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// Prints the line a harness waits for and flushes, since standard output is a pipe.
func announce(_ line: String) {
    print(line)
    fflush(nil)
}
