#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain TCP connection to the server: non-blocking POSIX socket, every wait bounded by a deadline.
public final class DirectTransport: Transport {
    public let report: ConnectionReport
    private var descriptor: Int32

    private init(descriptor: Int32, report: ConnectionReport) {
        self.descriptor = descriptor
        self.report = report
    }

    deinit { close() }

    /// Connects to `endpoint`, trying each address its name resolves to in order.
    ///
    /// Name resolution (`getaddrinfo`) cannot be interrupted and is not bounded by `deadline`; the TCP
    /// connects are.
    /// - Throws: ``TransportError`` at stage ``TransportError/Stage/serverConnect``:
    ///   ``TransportError/Category/serverUnreachable`` (name does not resolve, refused, unreachable) or
    ///   ``TransportError/Category/timedOut``.
    public static func open(_ endpoint: Endpoint, deadline: Deadline) throws -> DirectTransport {
        let started = ContinuousClock.now
        let connected = try SocketConnector.connect(
            to: endpoint,
            deadline: deadline,
            stage: .serverConnect,
            category: .serverUnreachable,
            role: "server"
        )
        let report = ConnectionReport(
            target: endpoint,
            connectedAddress: connected.address,
            tcpConnectTime: ContinuousClock.now - started
        )
        return DirectTransport(descriptor: connected.descriptor, report: report)
    }

    public var pollDescriptor: Int32 { descriptor }

    public var supportsHalfClose: Bool { true }

    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadOutcome {
        guard descriptor >= 0 else { throw closedError() }
        while true {
            let count = recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
            if count > 0 { return .bytes(count) }
            if count == 0 { return buffer.isEmpty ? .wouldBlock : .endOfStream }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: throw ioError(errno, "receiving from")
            }
        }
    }

    public func writeSome(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        guard descriptor >= 0 else { throw closedError() }
        while true {
            let count = send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default: throw ioError(errno, "sending to")
            }
        }
    }

    public func shutdownWrite() throws {
        guard descriptor >= 0 else { throw closedError() }
        if shutdown(descriptor, Int32(SHUT_WR)) != 0, errno != ENOTCONN {
            throw ioError(errno, "half-closing the connection to")
        }
    }

    public func close() {
        guard descriptor >= 0 else { return }
        _ = Glibc.close(descriptor)
        descriptor = -1
    }

    private func ioError(_ code: Int32, _ activity: String) -> TransportError {
        let category: TransportError.Category =
            [ECONNRESET, EPIPE, ENOTCONN, ECONNABORTED].contains(code) ? .connectionClosed : .internalError
        return TransportError(
            stage: .io,
            category: category,
            message: "\(activity) server \(report.target) failed: \(SystemError.describe(code))"
        )
    }

    private func closedError() -> TransportError {
        TransportError(stage: .io, category: .connectionClosed, message: "the connection to \(report.target) is closed")
    }
}

@available(*, unavailable)
extension DirectTransport: Sendable {}
