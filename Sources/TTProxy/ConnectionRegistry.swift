import NIOConcurrencyHelpers
import NIOCore

/// The open client connections of one proxy, shared by all its listeners: for the connection limit and so that a
/// graceful shutdown can wait for them and then reach every one.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var quiescing = false
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private let maxConnections: Int
    private let state = NIOLockedValueBox(State())

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// Client connections open now.
    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Registers `channel` unless the proxy is shutting down; a registered channel leaves when it closes.
    ///
    /// A channel over the limit is registered too: it holds a descriptor until it has been told `503`, and a
    /// shutdown must reach it.
    func admit(_ channel: any Channel) -> Admission {
        let admission: Admission = state.withLockedValue { state in
            if state.quiescing { return .shuttingDown }
            state.channels[ObjectIdentifier(channel)] = channel
            return state.channels.count > maxConnections ? .overLimit : .admitted
        }
        if admission != .shuttingDown {
            channel.closeFuture.whenComplete { [self] _ in remove(channel) }
        }
        return admission
    }

    private func remove(_ channel: any Channel) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLockedValue { state in
            state.channels[ObjectIdentifier(channel)] = nil
            guard state.channels.isEmpty else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Refuses new connections from now on.
    func beginQuiescing() {
        state.withLockedValue { $0.quiescing = true }
    }

    /// Returns once every registered connection has closed.
    func waitUntilEmpty() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let empty = state.withLockedValue { state in
                if state.channels.isEmpty { return true }
                state.drained.append(continuation)
                return false
            }
            if empty { continuation.resume() }
        }
    }

    /// Every open connection, for closing when the shutdown grace ends.
    var openChannels: [any Channel] { state.withLockedValue { Array($0.channels.values) } }

    enum Admission: Equatable {
        case admitted
        /// Over ``ProxyServerConfiguration/maxConnections``: to be answered `503` and closed.
        case overLimit
        case shuttingDown
    }
}
