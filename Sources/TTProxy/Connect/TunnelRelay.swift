import CTunnelRelay
import Glibc
import NIOCore
import Synchronization
import TTBasics

/// Moves the bytes of established tunnels from socket to socket, on one thread and one epoll set of its own for all
/// tunnels of a proxy (`CTunnelRelay`): with `recv`/`send` through a buffer per busy direction, or with `splice(2)`
/// through a pipe (``ProxyServerConfiguration/RelayMode``).
///
/// Unlike SwiftNIO, the relay has no per-tunnel channels (an idle tunnel costs about 1 KiB instead of 9) and moves
/// up to 256 KiB per read or splice. Once the `200` is decided, ``ConnectHandler`` duplicates both channels'
/// descriptors, hands the duplicates with any bytes it already holds to the relay and closes the channels (SwiftNIO
/// only closes its own descriptor, so the sockets live on). The relay keeps what the SwiftNIO glue guaranteed: an end of input is
/// passed on only after every byte before it (lossless half-close), a side whose peer does not read stops reading
/// the other (backpressure, at most one buffer or pipe per direction held), the idle timeout, and the close-flush
/// timeout for the survivor of a side that failed. Idle tunnels hold no buffer or pipe.
final class TunnelRelay: Sendable {
    /// The C relay until ``stop()``.
    private let relay: Mutex<Handle?>

    private struct Handle: @unchecked Sendable {
        // Only passed to the CTunnelRelay functions, which may be called from any thread.
        let pointer: OpaquePointer
    }

    /// Starts the relay thread; nil when the system refuses one (the proxy then relays with SwiftNIO).
    init?(mode: ProxyServerConfiguration.RelayMode, idleTimeout: Duration?, closeFlushTimeout: Duration) {
        guard
            let relay = ttr_relay_start(
                { context, up, down, errorSide, errorNumber in
                    guard let context else { return }
                    Unmanaged<RelayedTunnel>.fromOpaque(context).takeRetainedValue()
                        .ended(up: Int(up), down: Int(down), errorSide: errorSide, errorNumber: errorNumber)
                },
                mode == .copy,
                idleTimeout?.wholeMilliseconds ?? 0,
                closeFlushTimeout.wholeMilliseconds
            )
        else { return nil }
        self.relay = Mutex(Handle(pointer: relay))
    }

    /// Hands a tunnel's sockets to the relay, which owns them from now on; `toClient` goes to the client first
    /// (its first `uncounted` bytes are not counted as delivered), `toTarget` to the target. False when the relay
    /// could not take them: the descriptors are still the caller's.
    func adopt(
        client: CInt,
        target: CInt,
        toClient: ByteBuffer,
        uncounted: Int,
        toTarget: ByteBuffer,
        tunnel: RelayedTunnel
    ) -> Bool {
        let context = Unmanaged.passRetained(tunnel)
        let id = relay.withLock { relay -> UInt64 in
            guard let relay else { return 0 }
            return toClient.withUnsafeReadableBytes { down in
                toTarget.withUnsafeReadableBytes { up in
                    ttr_relay_add(
                        relay.pointer,
                        client,
                        target,
                        down.baseAddress,
                        down.count,
                        uncounted,
                        up.baseAddress,
                        up.count,
                        context.toOpaque()
                    )
                }
            }
        }
        guard id != 0 else {
            context.release()
            return false
        }
        tunnel.id.store(id, ordering: .releasing)
        return true
    }

    /// Closes a tunnel now (a shutdown's grace period ended); it reports through ``RelayedTunnel`` as usual.
    func close(_ tunnel: RelayedTunnel) {
        let id = tunnel.id.load(ordering: .acquiring)
        guard id != 0 else { return }
        relay.withLock { relay in
            if let relay { ttr_relay_close(relay.pointer, id) }
        }
    }

    /// Closes whatever is left and stops the thread; later tunnels are refused (``adopt(client:target:toClient:uncounted:toTarget:tunnel:)`` is false).
    func stop() {
        guard let relay = relay.withLock({ $0.take() }) else { return }
        ttr_relay_stop(relay.pointer)
    }

    /// A duplicate of `channel`'s socket descriptor, or nil when the channel has none (an embedded channel) or
    /// the process is out of descriptors. Must run on the channel's event loop.
    static func duplicateDescriptor(of channel: any Channel) -> CInt? {
        let duplicate = try? channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(
            of: NIOBSDSocket.Handle.self
        ) { descriptor in
            fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        }
        guard let duplicate, duplicate >= 0 else { return nil }
        return duplicate
    }
}

/// One tunnel in the ``TunnelRelay``: what its end needs (the access-log record on its event loop, the
/// connection registry entries, the close log).
final class RelayedTunnel: Sendable {
    /// The relay's id, set once the relay took the tunnel.
    fileprivate let id = Atomic<UInt64>(0)
    /// The registry entry of the target connection (the tunnel itself is the client's).
    let targetToken = TargetToken()
    private let record: NIOLoopBound<RequestRecord>
    private let connections: ConnectionRegistry<ProxyConnection>
    private let closeLog: ConnectionCloseLog
    private let peers: (client: String, target: String)

    init(
        record: NIOLoopBound<RequestRecord>,
        connections: ConnectionRegistry<ProxyConnection>,
        closeLog: ConnectionCloseLog,
        client: String,
        target: String
    ) {
        self.record = record
        self.connections = connections
        self.closeLog = closeLog
        self.peers = (client, target)
    }

    /// Runs on the relay thread once both sockets are closed.
    fileprivate func ended(up: Int, down: Int, errorSide: CInt, errorNumber: CInt) {
        if errorSide >= 0 {
            closeLog.record(
                reason: SystemErrorText.describe(errno: errorNumber),
                what: errorSide == 0 ? "client" : "target",
                peer: errorSide == 0 ? peers.client : peers.target
            )
        }
        let record = self.record
        record.eventLoop.execute {
            record.value.bytesUp += up
            record.value.bytesDown += down
            record.value.finish()
        }
        connections.remove(id: ObjectIdentifier(targetToken))
        connections.remove(id: ObjectIdentifier(self))
    }

    final class TargetToken: Sendable {}
}
