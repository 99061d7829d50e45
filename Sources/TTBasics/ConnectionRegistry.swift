import Synchronization

/// The open connections of one server, shared by all its listeners: the connection cap, and a graceful
/// shutdown that can wait for every connection and then reach the ones still open.
///
/// A connection over the cap is registered too (reported ``Admission/overLimit``): it holds a descriptor until
/// the server has refused it, and a shutdown must be able to reach it. Connections are told apart by an
/// `ObjectIdentifier` (a channel's); the owner calls ``remove(id:)`` when one closes (for a SwiftNIO channel,
/// from its `closeFuture`).
public final class ConnectionRegistry<Connection: Sendable>: Sendable {
    /// What ``admit(_:)`` decided.
    public enum Admission: Sendable, Equatable {
        /// Within the cap: serve it.
        case admitted
        /// Over the cap: refuse it (it stays registered until it closes).
        case overLimit
        /// Shutting down: it was not registered; close it.
        case shuttingDown
    }

    private struct State: ~Copyable {
        var connections: [ObjectIdentifier: Connection] = [:]
        var quiescing = false
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private let maxConnections: Int
    private let state = Mutex(State())

    /// A registry admitting at most `maxConnections` connections at once.
    public init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// Connections open now (over-limit ones included until they close).
    public var count: Int { state.withLock { $0.connections.count } }

    /// Registers `connection` under `id` unless the server is shutting down, and says whether it is within
    /// the cap.
    public func admit(_ connection: Connection, id: ObjectIdentifier) -> Admission {
        state.withLock { state in
            if state.quiescing { return .shuttingDown }
            state.connections[id] = connection
            return state.connections.count > maxConnections ? .overLimit : .admitted
        }
    }

    /// Forgets a closed connection; wakes ``waitUntilEmpty()`` when it was the last.
    public func remove(id: ObjectIdentifier) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.connections[id] = nil
            guard state.connections.isEmpty else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Moves a registered connection to a new id and value when its owner changes (a socket handed from a
    /// SwiftNIO channel to another relay): it keeps its place under the cap, also while quiescing. False when `id`
    /// is not registered (it has closed).
    public func handOver(from id: ObjectIdentifier, to newID: ObjectIdentifier, _ connection: Connection) -> Bool {
        state.withLock { state in
            guard state.connections.removeValue(forKey: id) != nil else { return false }
            state.connections[newID] = connection
            return true
        }
    }

    /// Refuses new connections from now on and returns the open ones.
    @discardableResult
    public func beginQuiescing() -> [Connection] {
        state.withLock { state in
            state.quiescing = true
            return Array(state.connections.values)
        }
    }

    /// Returns once every registered connection has closed.
    public func waitUntilEmpty() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let empty = state.withLock { state in
                if state.connections.isEmpty { return true }
                state.drained.append(continuation)
                return false
            }
            if empty { continuation.resume() }
        }
    }

    /// Every open connection, for closing when a shutdown's grace period ends.
    public var openConnections: [Connection] { state.withLock { Array($0.connections.values) } }
}
