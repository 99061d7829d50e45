import NIOConcurrencyHelpers
import NIOCore

/// The open sessions of one server, shared by all its listeners: enforces the connection cap and lets a
/// graceful shutdown reach every session.
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

    /// The number of open sessions.
    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Admits `channel` unless the server is full or shutting down; an admitted channel leaves the registry
    /// when it closes.
    func admit(_ channel: any Channel) -> Admission {
        let admission: Admission = state.withLockedValue { state in
            if state.quiescing { return .shuttingDown }
            if state.channels.count >= maxConnections { return .full }
            state.channels[ObjectIdentifier(channel)] = channel
            return .admitted
        }
        if admission == .admitted {
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

    /// Refuses new sessions from now on and returns the open ones.
    func beginQuiescing() -> [any Channel] {
        state.withLockedValue { state in
            state.quiescing = true
            return Array(state.channels.values)
        }
    }

    /// Returns once every session has closed.
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

    /// Every open session, for forced closing when the grace period ends.
    var openChannels: [any Channel] { state.withLockedValue { Array($0.channels.values) } }

    enum Admission: Equatable {
        case admitted
        case full
        case shuttingDown
    }
}
