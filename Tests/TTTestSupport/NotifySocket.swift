import Foundation

/// A unix datagram socket standing in for systemd's notification socket (`$NOTIFY_SOCKET`), bound to a fresh path
/// in the temporary directory and removed with the value.
public final class NotifySocket: Sendable {
    /// The socket's file system path, the value for `$NOTIFY_SOCKET`.
    public let path: String
    private let descriptor: Int32

    /// Binds a new socket to a fresh file in the temporary directory, or with `abstract` to a fresh name in the
    /// abstract namespace (`path` is then `@name`, as systemd writes it); throws when the kernel refuses.
    public init(abstract: Bool = false) throws {
        let name = "tt-notify-\(UUID().uuidString.prefix(8))"
        let path = abstract ? "@" + name : FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ProcessRunError(description: "socket(AF_UNIX) failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // An abstract name starts with a NUL byte and is exactly as long as the address length says.
        var bytes = Array(path.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length =
            abstract ? MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count : MemoryLayout<sockaddr_un>.size
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) == 0 }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw ProcessRunError(description: "cannot bind a unix datagram socket at \(path): errno \(code)")
        }
        self.path = path
        self.descriptor = fd
    }

    /// The next datagram as UTF-8, or `nil` when none arrives within `timeout` (polled in short slices, so a
    /// cooperative thread is never blocked for long).
    public func receive(timeout: Duration = .seconds(30)) async -> String? {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let count = buffer.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
            }
            if count >= 0 { return String(decoding: buffer.prefix(count), as: UTF8.self) }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    deinit {
        close(descriptor)
        if !path.hasPrefix("@") { unlink(path) }
    }
}
