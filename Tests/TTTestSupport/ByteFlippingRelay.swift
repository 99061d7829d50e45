import Foundation
import Synchronization

/// A TCP relay on an ephemeral 127.0.0.1 port to a local target that flips one byte of what the target sends on
/// one chosen connection: a fault on the wire that the framework's authenticated encryption must catch. It can
/// also hold the target's end of stream back until the client has sent more: a close that crosses the client's
/// next request on the wire, as on a network with some delay.
///
/// Each accepted connection gets two pump threads (one per direction); ``stop()`` shuts every socket down, which
/// ends them, and waits for them.
public final class ByteFlippingRelay: StoppableTestResource {
    private struct State {
        var accepted = 0
        var open: Set<Int32> = []
        var pumps = 0
        var accepting = true
        var stopped = false
        var targetCloses = 0
    }

    /// The port clients connect to.
    public let port: Int
    private let listener: Int32
    private let state = Mutex(State())

    /// How many connections the relay accepted.
    public var connections: Int { state.withLock { $0.accepted } }
    /// How many times a target ended its side of a connection (with `holdTargetClose`, not yet passed on until the
    /// client sends more).
    public var targetCloses: Int { state.withLock { $0.targetCloses } }

    private init(listener: Int32, port: Int) {
        self.listener = listener
        self.port = port
    }

    /// Starts relaying to `127.0.0.1:targetPort`; on the `flipConnection`-th connection (1-based; 0 for none) the
    /// byte at `offset` of the target's stream reaches the client inverted. With `holdTargetClose`, the target's
    /// end of stream reaches the client only once the client has sent something after it (at most 10 s later).
    public static func start(
        to targetPort: Int,
        flipConnection: Int,
        offset: Int,
        holdTargetClose: Bool = false
    ) throws -> ByteFlippingRelay {
        let (listener, port) = try bindLoopback(listenBacklog: 16)
        let relay = ByteFlippingRelay(listener: listener, port: port)
        Thread.detachNewThread {
            relay.acceptLoop(
                targetPort: targetPort,
                flipConnection: flipConnection,
                offset: offset,
                holdTargetClose: holdTargetClose
            )
        }
        return relay
    }

    /// Stops accepting, cuts every relayed connection and waits (at most 5 s) for the pumps and the accept loop to
    /// end.
    ///
    /// A descriptor is shut down only while it is still the relay's: the lock keeps a pump from closing it first,
    /// after which its number may already be another test's socket (a listener shut down that way stops listening).
    public func stop() async {
        state.withLock { state in
            state.stopped = true
            _ = shutdown(listener, Int32(SHUT_RDWR))
            for descriptor in state.open { _ = shutdown(descriptor, Int32(SHUT_RDWR)) }
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while state.withLock({ $0.pumps > 0 || $0.accepting }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        // Closed only once the accept loop has ended: it must not accept on the number when it is reused.
        if !state.withLock({ $0.accepting }) { close(listener) }
    }

    private func acceptLoop(targetPort: Int, flipConnection: Int, offset: Int, holdTargetClose: Bool) {
        // Ends when stop() shuts the listener down (accept then fails).
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                state.withLock { $0.accepting = false }
                return
            }
            let server = startLoopbackConnect(port: targetPort)
            _ = fcntl(server, F_SETFL, fcntl(server, F_GETFL) & ~O_NONBLOCK)
            var pollfd = Glibc.pollfd(fd: server, events: Int16(POLLOUT), revents: 0)
            let number = state.withLock { state -> Int? in
                guard !state.stopped else { return nil }
                state.accepted += 1
                state.open.formUnion([client, server])
                state.pumps += 2
                return state.accepted
            }
            guard let number, poll(&pollfd, 1, 5000) == 1 else {
                if number != nil {
                    state.withLock {
                        $0.open.subtract([client, server])
                        $0.pumps -= 2
                    }
                }
                close(client)
                close(server)
                continue
            }
            let flipAt = number == flipConnection ? offset : nil
            // Bytes each way; the client's decide when a held close of the target goes on.
            let fromClient = Mutex(0)
            let fromTarget = Mutex(0)
            let done = Mutex(0)
            let finish: @Sendable () -> Void = { [self] in
                let both = done.withLock { count -> Bool in
                    count += 1
                    return count == 2
                }
                guard both else { return }
                state.withLock {
                    $0.open.subtract([client, server])
                    $0.pumps -= 2
                }
                close(client)
                close(server)
            }
            Thread.detachNewThread {
                Self.pump(from: client, to: server, flipAt: nil, counting: fromClient)
                _ = shutdown(server, Int32(SHUT_WR))
                finish()
            }
            Thread.detachNewThread { [self] in
                let ended = Self.pump(from: server, to: client, flipAt: flipAt, counting: fromTarget)
                if ended {
                    state.withLock { $0.targetCloses += 1 }
                    if holdTargetClose { waitForMore(from: fromClient) }
                }
                _ = shutdown(client, Int32(SHUT_WR))
                finish()
            }
        }
    }

    /// Waits until the client has sent more than it had (at most 10 s, or until the relay stops).
    private func waitForMore(from fromClient: borrowing Mutex<Int>) {
        let seen = fromClient.withLock { $0 }
        let deadline = ContinuousClock.now + .seconds(10)
        while fromClient.withLock({ $0 }) == seen, !state.withLock({ $0.stopped }), ContinuousClock.now < deadline {
            usleep(5000)
        }
    }

    /// Copies until end of stream or an error, adding what it copied to `counting`.
    /// - Returns: whether the source ended its stream (rather than failing, or the sink).
    @discardableResult
    private static func pump(from source: Int32, to sink: Int32, flipAt: Int?, counting: borrowing Mutex<Int>) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var position = 0
        // Ends at end of stream or on an error (stop() shuts the sockets down).
        while true {
            let count = recv(source, &buffer, buffer.count, 0)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return count == 0 }
            if let flipAt, flipAt >= position, flipAt < position + count {
                buffer[flipAt - position] ^= 0xFF
            }
            position += count
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes {
                    send(sink, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL))
                }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else {
                    _ = shutdown(source, Int32(SHUT_RDWR))
                    return false
                }
                sent += written
            }
            counting.withLock { $0 += count }
        }
    }
}
