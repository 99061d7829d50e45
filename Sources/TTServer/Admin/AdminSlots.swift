import Logging
import NIOConcurrencyHelpers
import NIOCore
import TTPasswordChecks

/// The admin connections open now, and who gets a place when they are many.
///
/// One address (an IPv6 address by its /64, like the login queues) holds at most
/// ``AdminServer/Limits/maxConnectionsPerAddress``; one more from it is refused at once. At
/// ``AdminServer/Limits/maxConnections`` a newcomer is not refused: it takes the place of the connection most
/// likely to be idle or hostile, which is closed (nginx reuses its idle and lingering connections the same way
/// when its connection table runs out). A health check or a scrape completes its head within milliseconds, so a
/// silent peer, from one address or from many, can no longer keep them out for a whole head timeout: to push a
/// check out, it would have to open the cap's worth of connections while that one check is answered.
final class AdminSlots: Sendable {
    /// Where a connection is in its one exchange, in the order connections are closed to make room (oldest first
    /// within each).
    enum Phase: Int, Comparable {
        /// Answered and lingering: closing it takes nothing the client asked for.
        case lingering
        /// Its request head is not whole yet. Legitimate heads take milliseconds, so the one that has waited longest
        /// is the likeliest silent or trickling peer.
        case waiting
        /// Its answer is being written: closed last, only when every other connection is in this phase too.
        case answering

        static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// What ``admit(_:)`` decided.
    enum Admission: Sendable {
        case admitted
        /// Admitted in the place of a connection the caller closes: `channel`, open for `age` in `phase`.
        case admittedInPlaceOf(channel: any Channel, phase: Phase, age: TimeAmount)
        /// Refused: its address already holds this many connections.
        case refusedForAddress(held: Int)
    }

    private struct Entry {
        let channel: any Channel
        let source: String
        let sequence: UInt64
        let admitted: NIODeadline
        var phase: Phase
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perSource: [String: Int] = [:]
        var sequence: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())
    private let maxConnections: Int
    private let maxPerSource: Int

    /// Each cap counts as at least 1: a cap of 0 would leave no connection to make room from.
    init(maxConnections: Int, maxPerAddress: Int) {
        self.maxConnections = max(1, maxConnections)
        self.maxPerSource = max(1, maxPerAddress)
    }

    /// Counts `channel` in, or refuses it; at the cap it picks the connection to close in its place (at most
    /// ``AdminServer/Limits/maxConnections`` entries are scanned, and only at the cap).
    func admit(_ channel: any Channel) -> Admission {
        let source = channel.remoteAddress?.ipAddress.map(SourceKey.of(host:)) ?? "unknown"
        let now = NIODeadline.now()
        return state.withLockedValue { state in
            let held = state.perSource[source, default: 0]
            guard held < maxPerSource else { return .refusedForAddress(held: held) }
            var admission = Admission.admitted
            if state.entries.count >= maxConnections,
                let victim = state.entries.values.min(by: { ($0.phase, $0.sequence) < ($1.phase, $1.sequence) })
            {
                Self.remove(victim.channel, from: &state)
                admission = .admittedInPlaceOf(
                    channel: victim.channel,
                    phase: victim.phase,
                    age: now - victim.admitted
                )
            }
            state.sequence += 1
            state.entries[ObjectIdentifier(channel)] = Entry(
                channel: channel,
                source: source,
                sequence: state.sequence,
                admitted: now,
                phase: .waiting
            )
            state.perSource[source, default: 0] += 1
            return admission
        }
    }

    /// Moves `channel` on to `phase` (phases only move on: waiting, answering, lingering).
    func mark(_ channel: any Channel, _ phase: Phase) {
        state.withLockedValue { state in
            guard let entry = state.entries[ObjectIdentifier(channel)], entry.channel === channel else { return }
            state.entries[ObjectIdentifier(channel)]?.phase = phase
        }
    }

    /// Gives the place of `channel` back once it is closed (nothing when it was closed to make room).
    func remove(_ channel: any Channel) {
        state.withLockedValue { Self.remove(channel, from: &$0) }
    }

    private static func remove(_ channel: any Channel, from state: inout State) {
        let id = ObjectIdentifier(channel)
        guard let entry = state.entries[id], entry.channel === channel else { return }
        state.entries[id] = nil
        let left = state.perSource[entry.source, default: 1] - 1
        state.perSource[entry.source] = left > 0 ? left : nil
    }
}

/// What the admin listener reports when it refuses a connection or closes one to make room: a log line (rate-limited,
/// at notice: peers cause them) and a count on `/metrics`.
struct AdminRefusals: Sendable {
    let logger: Logger
    let limiter: LogLimiter
    let counters: ServerMetrics?

    func refused(_ channel: any Channel, held: Int) {
        counters?.adminConnectionRefused()
        limiter.log(
            logger,
            level: .notice,
            "admin connection refused",
            metadata: [
                "peer": "\(Self.peer(channel))",
                "reason": "its address holds \(held) admin connections (--admin-max-connections-per-address)",
            ]
        )
    }

    func evicted(_ channel: any Channel, phase: AdminSlots.Phase, age: TimeAmount) {
        counters?.adminConnectionEvicted()
        let what =
            switch phase {
            case .lingering: "lingering after its answer"
            case .waiting: "without a whole request head"
            case .answering: "being answered"
            }
        let seconds = Double(age.nanoseconds) / 1e9
        limiter.log(
            logger,
            level: .notice,
            "admin connection closed to make room",
            metadata: [
                "peer": "\(Self.peer(channel))",
                "reason": "--admin-max-connections reached; it was open \(what) for \(Self.format(seconds)) s",
            ]
        )
    }

    private static func peer(_ channel: any Channel) -> String {
        channel.remoteAddress.map(FrameworkServer.format) ?? "unknown"
    }

    private static func format(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// Admits accepted connections through ``AdminSlots`` in the order the listener accepts them: refuses one over its
/// address's cap, closes the one it replaces at the global cap.
///
/// It runs on the listener's event loop, before NIO hands each connection to its own event loop: counted in the
/// child initializer instead (which runs on that loop), a connection accepted later could be counted first on a
/// loaded machine and take the place of one accepted before it.
final class AdminAdmission: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let slots: AdminSlots
    private let refusals: AdminRefusals

    init(slots: AdminSlots, refusals: AdminRefusals) {
        self.slots = slots
        self.refusals = refusals
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let accepted = unwrapInboundIn(data)
        switch slots.admit(accepted) {
        case .refusedForAddress(let held):
            refusals.refused(accepted, held: held)
            accepted.close(promise: nil)
            return
        case .admittedInPlaceOf(let channel, let phase, let age):
            refusals.evicted(channel, phase: phase, age: age)
            channel.close(promise: nil)
        case .admitted:
            break
        }
        let slots = self.slots
        accepted.closeFuture.whenComplete { _ in slots.remove(accepted) }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension AdminAdmission: Sendable {}
