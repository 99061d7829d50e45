import NIOCore
import NIOPosix
import Synchronization

/// The addresses a proxy listens on, to refuse tunnels that lead back into the proxy itself.
///
/// A CONNECT to one of them would make the proxy its own client: nested a hundred deep, one request becomes a
/// hundred connection pairs. A listener on a wildcard address (`0.0.0.0:P`, `[::]:P`) is reached through any local
/// address with port P, so for those the target counts as the proxy when its address is local: loopback, the
/// source address the kernel picked for the connection (the same as the destination for a local one), or an
/// address of a local interface.
final class OwnListeners: Sendable {
    /// Normalized IP and port of each listener: plain values, so no `SocketAddress` storage outlives the server
    /// (LeakSanitizer reported the IPv6 address box of a stored `SocketAddress` as leaked at exit).
    private let addresses = Mutex<[(ip: String, port: Int)]>([])

    /// Records a bound listener.
    func add(_ address: SocketAddress) {
        guard let ip = Self.normalizedIP(address), let port = address.port else { return }
        addresses.withLock { $0.append((ip, port)) }
    }

    /// Whether a connection that reached `target` from `local` reached one of our listeners.
    func contains(target: SocketAddress, local: SocketAddress?) -> Bool {
        guard let port = target.port, let ip = Self.normalizedIP(target) else { return false }
        let listeners = addresses.withLock { $0 }.filter { $0.port == port }
        guard !listeners.isEmpty else { return false }
        if listeners.contains(where: { $0.ip == ip }) { return true }
        guard listeners.contains(where: { ["0.0.0.0", "::"].contains($0.ip) }) else { return false }
        return Self.isLocal(ip, connectionSource: local.flatMap(Self.normalizedIP))
    }

    /// The textual IP, with IPv4-mapped IPv6 addresses written as IPv4.
    private static func normalizedIP(_ address: SocketAddress) -> String? {
        guard let ip = address.ipAddress else { return nil }
        let mapped = "::ffff:"
        if ip.lowercased().hasPrefix(mapped), ip.contains(".") { return String(ip.dropFirst(mapped.count)) }
        return ip
    }

    private static func isLocal(_ ip: String, connectionSource: String?) -> Bool {
        if ip == "::1" || ip.hasPrefix("127.") || ip == connectionSource { return true }
        let interfaces = (try? System.enumerateDevices()) ?? []
        return interfaces.contains { device in device.address.flatMap(normalizedIP) == ip }
    }
}
