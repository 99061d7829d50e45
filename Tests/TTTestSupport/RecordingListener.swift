import Foundation

/// A TCP listener on an ephemeral 127.0.0.1 port that never answers: it only tells whether anyone dialled it, so a
/// test can check the port a client actually connected to. The kernel completes connections into the backlog;
/// ``takeConnections()`` accepts (and closes) whatever is there without waiting.
public final class RecordingListener: Sendable {
    private let descriptor: Int32
    /// The port it listens on.
    public let port: Int

    /// Binds and listens.
    public init() throws {
        (descriptor, port) = try bindLoopback(listenBacklog: 64)
        _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
    }

    deinit {
        close(descriptor)
    }

    /// How many connections arrived since the last call (at most 64, the backlog).
    public func takeConnections() -> Int {
        var count = 0
        // Bounded by the backlog: accept fails with EAGAIN once it is empty.
        while count < 64 {
            let connection = accept(descriptor, nil, nil)
            guard connection >= 0 else { break }
            close(connection)
            count += 1
        }
        return count
    }
}
