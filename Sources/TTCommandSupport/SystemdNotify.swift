import Glibc

/// Readiness for systemd's `Type=notify` services, as `sd_notify(3)` does it but without libsystemd: one datagram
/// (`READY=1`) to the unix socket named by `$NOTIFY_SOCKET`.
package enum SystemdNotify {
    /// Tells the service manager the service is ready, when it runs under one that asked (`$NOTIFY_SOCKET` set);
    /// otherwise does nothing. Returns whether the datagram was sent.
    @discardableResult
    package static func ready() -> Bool {
        guard let variable = getenv("NOTIFY_SOCKET") else { return false }
        return send("READY=1", to: String(cString: variable))
    }

    /// Sends `state` (newline-separated `KEY=VALUE` assignments) as one datagram to the unix socket `path`: a file
    /// system path, or `@name` for the abstract namespace, as `$NOTIFY_SOCKET` spells them. Returns whether the
    /// datagram was sent; a path that names no socket, or is too long for `sun_path`, sends nothing.
    @discardableResult
    package static func send(_ state: String, to path: String) -> Bool {
        var name = Array(path.utf8)
        guard let first = name.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@") else { return false }
        // An abstract name starts with a NUL byte and is exactly as long as the address length says.
        if first == UInt8(ascii: "@") { name[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // A path keeps room for its terminating NUL (the zeroed tail of `sun_path`).
        guard name.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + name.count)

        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let message = Array(state.utf8)
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == message.count
    }
}
