import Foundation

/// A loopback listener whose accept queue is full, so further connection attempts get no answer at all
/// (Linux drops SYNs to a listener whose queue is full): an honest "blackhole" on 127.0.0.1 for connect
/// timeouts. `listen(fd, 0)` admits one queued connection; we make it ourselves and never accept.
final class FullBacklogListener {
    let port: Int
    private let listener: Int32
    private let filler: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 && listen(fd, 0) == 0
            }
        }
        guard ok else { throw CannedResponderError(description: "cannot listen: \(errno)") }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) == 0 }
        }
        guard connected else { throw CannedResponderError(description: "cannot fill the backlog: \(errno)") }
    }

    deinit {
        close(filler)
        close(listener)
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then closed): connections are refused.
func closedLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
