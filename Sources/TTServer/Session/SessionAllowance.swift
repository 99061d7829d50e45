import NIOCore

/// One session's account with the server's ``BufferBudget``, shared by its ``FrameDecoder`` and its
/// ``SessionHandler`` (both run on the session's event loop): how many bytes the session holds, whether it is
/// logged in (which decides its limits), and the deadline of the frame it is receiving.
///
/// The first ``unchargedBytes`` a session holds are its own (part of its fixed per-session cost, so a Login
/// always gets through even while hostile sessions hold the whole budget); only bytes beyond them are charged.
final class SessionAllowance {
    /// Bytes a session may hold without drawing on the budget.
    static let unchargedBytes = 16 << 10

    private let budget: BufferBudget
    /// The largest frame and inflated packet of a session that has not logged in.
    let preLoginMaxPacketSize: Int
    /// How long a started frame may take to arrive completely.
    let frameTimeout: TimeAmount

    /// Bytes this session holds: undecoded input, queued frames, unflushed answers.
    private(set) var held = 0
    /// The part of ``held`` charged to the budget.
    private var charged = 0
    private var closed = false
    private var frameDeadline: Scheduled<Void>?

    /// Whether the session has logged in; its charge moves to or from the pre-login share.
    var loggedIn = false {
        didSet {
            guard loggedIn != oldValue, !closed, charged > 0 else { return }
            budget.move(charged, toPreLogin: !loggedIn)
        }
    }

    /// Whether the session has stopped reading its socket (queue full, peer not reading): a frame cannot
    /// progress then, so its deadline waits.
    var readPaused = false

    init(budget: BufferBudget, preLoginMaxPacketSize: Int, frameTimeout: TimeAmount) {
        self.budget = budget
        self.preLoginMaxPacketSize = preLoginMaxPacketSize
        self.frameTimeout = frameTimeout
    }

    /// Adds `bytes` to what the session holds.
    /// - Returns: `false`, with nothing added, when the budget has no room for them.
    func add(_ bytes: Int) -> Bool {
        guard !closed, bytes > 0 else { return true }
        let newCharge = max(0, held + bytes - Self.unchargedBytes)
        if newCharge > charged {
            guard budget.reserve(newCharge - charged, preLogin: !loggedIn) else { return false }
        }
        held += bytes
        charged = newCharge
        return true
    }

    func remove(_ bytes: Int) {
        guard !closed, bytes > 0 else { return }
        held = max(0, held - bytes)
        let newCharge = max(0, held - Self.unchargedBytes)
        if newCharge < charged { budget.release(charged - newCharge, preLogin: !loggedIn) }
        charged = newCharge
    }

    /// Gives everything back when the session ends; later calls change nothing.
    func close() {
        guard !closed else { return }
        budget.release(charged, preLogin: !loggedIn)
        charged = 0
        held = 0
        closed = true
        cancelFrameDeadline()
    }

    /// Starts the deadline of a frame that has begun to arrive, unless one is running; `expired` runs when it
    /// passes while the session was reading.
    func armFrameDeadline(on loop: any EventLoop, _ expired: @escaping () -> Void) {
        guard frameDeadline == nil, !closed else { return }
        frameDeadline = loop.assumeIsolated().scheduleTask(in: frameTimeout) {
            self.frameDeadline = nil
            if self.readPaused {
                // The server, not the peer, held the frame up: give it a fresh deadline.
                self.armFrameDeadline(on: loop, expired)
            } else {
                expired()
            }
        }
    }

    func cancelFrameDeadline() {
        frameDeadline?.cancel()
        frameDeadline = nil
    }
}

@available(*, unavailable)
extension SessionAllowance: Sendable {}
