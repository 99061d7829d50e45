/// The result of one non-blocking read.
public enum ReadOutcome: Sendable, Hashable {
    /// `n` bytes (at least one) were stored at the start of the buffer.
    case bytes(Int)
    /// Nothing to read now; wait for ``Transport/pollDescriptor`` to become readable.
    case wouldBlock
    /// The peer finished sending (it half-closed or closed the connection).
    case endOfStream
}

/// A bidirectional byte stream to a framework server: a direct TCP connection or a tunnel through a proxy.
///
/// A transport belongs to one thread at a time and is not `Sendable`. Its primitives never block; the
/// blocking helpers (``receiveExactly(_:deadline:)``, ``sendAll(_:deadline:)``) wait with `poll(2)`.
///
/// The readiness contract: call ``readSome(into:)`` until it returns ``ReadOutcome/wouldBlock`` before
/// waiting for ``pollDescriptor`` to become readable. A TLS layer (an https:// proxy) may hold decrypted bytes
/// that no longer show as readiness on the socket.
public protocol Transport: AnyObject {
    /// Where the connection goes and how it was built.
    var report: ConnectionReport { get }

    /// The descriptor to `poll(2)` for readiness (`POLLIN` after a ``ReadOutcome/wouldBlock``, `POLLOUT` after
    /// a ``writeSome(_:)`` that wrote nothing).
    var pollDescriptor: Int32 { get }

    /// Whether ``shutdownWrite()`` really signals end of stream to the peer (not through an https:// proxy,
    /// whose TLS layer cannot be half-closed).
    var supportsHalfClose: Bool { get }

    /// Reads what is available now into `buffer`.
    /// - Throws: ``TransportError`` (stage ``TransportError/Stage/io``) when the connection failed.
    func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> ReadOutcome

    /// Writes what fits now; returns the number of bytes taken, `0` when it would block.
    /// - Throws: ``TransportError`` (stage ``TransportError/Stage/io``) when the connection failed.
    func writeSome(_ bytes: UnsafeRawBufferPointer) throws -> Int

    /// Tells the peer no more bytes will come (TCP half-close); reading continues to work.
    func shutdownWrite() throws

    /// Closes the connection and releases its resources. Idempotent.
    func close()
}
