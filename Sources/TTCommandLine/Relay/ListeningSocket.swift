import Glibc
import TTCommandSupport
import TTTransport

/// A TCP listener on a numeric address (`127.0.0.1:0`, `[::1]:8022`), for `forward`.
final class ListeningSocket {
    let descriptor: Int32
    /// The bound address, with the port the kernel chose for port 0.
    let address: Endpoint

    /// Binds and listens.
    /// - Throws: ``CommandFailure``: usage (2) for an address that is not numeric, 1 when bind fails.
    init(_ endpoint: Endpoint) throws(CommandFailure) {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list) == 0, let info = list else {
            throw .usage("--listen \(endpoint): the address must be a numeric IPv4 or [IPv6] address")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure(exitCode: 1, message: "socket() failed: \(Self.lastError)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 64) == 0 else {
            let reason = Self.lastError
            Glibc.close(fd)
            throw CommandFailure(exitCode: 1, message: "cannot listen on \(endpoint): \(reason)")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let port = withUnsafeMutablePointer(to: &storage) { pointer -> Int in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
            if Int32(pointer.pointee.ss_family) == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                Int(UInt16(bigEndian: $0.pointee.sin_port))
            }
        }
        descriptor = fd
        address = Endpoint(host: endpoint.host, port: port)
    }

    /// What one ``accept()`` gave.
    enum Accepted {
        /// A client's socket.
        case client(Int32)
        /// None was pending after all (another took it, or it was aborted).
        case nothing
        /// The process or the system is out of descriptors or buffers (the `errno`): the pending client stays in
        /// the backlog, and the listener stays readable until something is freed.
        case outOfResources(Int32)
    }

    /// Accepts one connection (the listener was reported readable).
    func accept() -> Accepted {
        let fd = Glibc.accept(descriptor, nil, nil)
        if fd >= 0 { return .client(fd) }
        let code = errno
        return [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(code) ? .outOfResources(code) : .nothing
    }

    deinit {
        Glibc.close(descriptor)
    }

    private static var lastError: String { String(cString: strerror(errno)) }
}

@available(*, unavailable)
extension ListeningSocket: Sendable {}
