import NIOConcurrencyHelpers

/// The server-wide allowance for bytes sessions hold in memory between the socket and the request, and between
/// the answer and the socket: frames still arriving or queued, and sealed answers the peer has not read yet.
///
/// Sessions that have not logged in draw from a smaller share of it, so unauthenticated peers cannot take the
/// room logged-in sessions need. A session that asks for more than is left is closed: the one asking, never the
/// sessions already holding their share.
final class BufferBudget: Sendable {
    private struct Usage {
        var total = 0
        var preLogin = 0
    }

    private let maxBytes: Int
    private let maxPreLoginBytes: Int
    private let usage = NIOLockedValueBox(Usage())

    init(maxBytes: Int, maxPreLoginBytes: Int) {
        self.maxBytes = maxBytes
        self.maxPreLoginBytes = min(maxBytes, maxPreLoginBytes)
    }

    /// Bytes charged right now.
    var bytes: Int { usage.withLockedValue { $0.total } }

    /// Charges `bytes` if they fit (and, for a session not logged in, fit the pre-login share).
    func reserve(_ bytes: Int, preLogin: Bool) -> Bool {
        usage.withLockedValue { usage in
            guard bytes <= maxBytes - usage.total, !preLogin || bytes <= maxPreLoginBytes - usage.preLogin else {
                return false
            }
            usage.total += bytes
            if preLogin { usage.preLogin += bytes }
            return true
        }
    }

    func release(_ bytes: Int, preLogin: Bool) {
        usage.withLockedValue { usage in
            usage.total -= bytes
            if preLogin { usage.preLogin -= bytes }
        }
    }

    /// Moves a session's charge into or out of the pre-login share when it logs in or out; never refused (the
    /// bytes are already held).
    func move(_ bytes: Int, toPreLogin: Bool) {
        usage.withLockedValue { usage in
            usage.preLogin += toPreLogin ? bytes : -bytes
        }
    }
}
