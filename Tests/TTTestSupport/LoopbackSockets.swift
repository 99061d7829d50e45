import Foundation

/// Binds a TCP socket to 127.0.0.1 on a port the kernel picks, listening with `listenBacklog` when given.
/// - Returns: the descriptor (the caller closes it) and the port.
public func bindLoopback(listenBacklog: Int32?) throws -> (descriptor: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ProcessRunError(description: "socket() failed: \(errno)") }
    var address = loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && (listenBacklog.map { listen(fd, $0) == 0 } ?? true)
                && getsockname(fd, pointer, &length) == 0
        }
    }
    guard ok else {
        let code = errno
        close(fd)
        throw ProcessRunError(description: "cannot bind a loopback socket: errno \(code)")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// Starts a non-blocking connect from a new socket to `127.0.0.1:port`; returns the descriptor.
public func startLoopbackConnect(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    var address = loopbackAddress(port: port)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    return fd
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

/// A port on 127.0.0.1 that refuses connections: bound (so no other test can take it) but not listening, for as
/// long as this object lives.
public final class ClosedPort: Sendable {
    /// The port.
    public let port: Int
    private let descriptor: Int32

    /// Reserves a port with nothing listening.
    public init() throws {
        (descriptor, port) = try bindLoopback(listenBacklog: nil)
    }

    deinit { close(descriptor) }
}

/// A loopback listener whose accept queue is full, so further connection attempts get no answer at all (Linux
/// drops SYNs to a listener whose queue is full): an honest "blackhole" on 127.0.0.1 for connect timeouts.
public final class FullBacklogListener: Sendable {
    /// The port.
    public let port: Int
    private let descriptors: [Int32]

    /// Listens with backlog 0 and fills the queue itself; it never accepts.
    public init() throws {
        let (listener, port) = try bindLoopback(listenBacklog: 0)
        self.port = port
        // `listen(fd, 0)` admits a connection or two; a few fillers make sure the queue is full.
        descriptors = [listener] + (0..<3).map { _ in startLoopbackConnect(port: port) }
        usleep(50_000)
    }

    deinit { for descriptor in descriptors { close(descriptor) } }
}
