import Glibc

/// What a zero-timeout look at an idle connection found (``Transport/probeIdleConnection()``).
public enum IdleConnectionState {
    /// Nothing happened on the connection: it looks open, a request may be written.
    case open
    /// The peer sent bytes nobody asked for (they were read and are returned); the connection looks open.
    case unsolicited([UInt8])
    /// The peer closed or reset the connection while it was idle: nothing written now could reach it.
    case closed(TransportError)
}

extension Transport {
    /// Looks, without waiting, whether the peer closed or reset this idle connection.
    ///
    /// A client calls this before writing a request: a server that timed an idle session out has already sent
    /// its FIN (or RST), which shows as readiness right away. Finding that before the write proves the request
    /// never left, so it can safely go out again on a new connection. It costs one `poll(2)` when nothing
    /// happened. A close that races with the write is not seen here; the caller must then treat the request as
    /// possibly delivered.
    public func probeIdleConnection() -> IdleConnectionState {
        var entry = pollfd(fd: pollDescriptor, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&entry, 1, 0) } while ready < 0 && errno == EINTR
        guard ready > 0, entry.revents != 0 else { return .open }
        // Readable, hung up or failed: read to find out which (a TLS layer may also just have consumed a record).
        var unsolicited: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            do {
                let outcome = try buffer.withUnsafeMutableBytes { try readSome(into: $0) }
                switch outcome {
                case .bytes(let count):
                    unsolicited += buffer[0..<count]
                    // Bound what an idle peer can push at us: that much unasked data is a broken session.
                    if unsolicited.count > 64 * 1024 { return .unsolicited(unsolicited) }
                case .wouldBlock:
                    return unsolicited.isEmpty ? .open : .unsolicited(unsolicited)
                case .endOfStream:
                    return .closed(
                        TransportError(
                            stage: .io,
                            category: .connectionClosed,
                            message: "\(peerName) closed the idle connection"
                        )
                    )
                }
            } catch let error as TransportError {
                return .closed(error)
            } catch {
                return .closed(TransportError(stage: .io, category: .connectionClosed, message: "\(error)"))
            }
        }
    }
}
