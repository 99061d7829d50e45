import Foundation
import NIOCore

/// The open client connections: for the connection limit and for shutdown.
final class ConnectionRegistry: @unchecked Sendable {
    // Every stored property is read and written only while holding `lock`.
    private let lock = NSLock()
    private var channels: [ObjectIdentifier: any Channel] = [:]

    /// Adds `channel`; returns how many are open including it.
    func add(_ channel: any Channel) -> Int {
        lock.withLock {
            channels[ObjectIdentifier(channel)] = channel
            return channels.count
        }
    }

    func remove(_ channel: any Channel) {
        lock.withLock { _ = channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int { lock.withLock { channels.count } }
    var all: [any Channel] { lock.withLock { Array(channels.values) } }
}
