import NIOConcurrencyHelpers

/// The server-wide allowance for work on the thread pool (inflating, compressing, password checks): at most
/// so many jobs and so many bytes at once. A request that would exceed it is answered `Server busy` rather than
/// queued, so neither a connection flood nor a login flood can pile up memory or delay without bound.
final class OffloadBudget: Sendable {
    private struct Usage {
        var jobs = 0
        var bytes = 0
    }

    private let maxJobs: Int
    private let maxBytes: Int
    private let usage = NIOLockedValueBox(Usage())

    init(maxJobs: Int, maxBytes: Int) {
        self.maxJobs = maxJobs
        self.maxBytes = maxBytes
    }

    /// Jobs holding a share of the budget right now.
    var jobs: Int { usage.withLockedValue { $0.jobs } }

    /// Takes one job and `bytes` from the budget if both fit; every successful call needs one ``release(bytes:)``.
    /// A job larger than the whole byte budget still runs when it is the only one, so limits configured above the
    /// budget slow the server down instead of refusing those requests for ever.
    func acquire(bytes: Int) -> Bool {
        usage.withLockedValue { usage in
            guard usage.jobs < maxJobs, usage.jobs == 0 || bytes <= maxBytes - usage.bytes else { return false }
            usage.jobs += 1
            usage.bytes += bytes
            return true
        }
    }

    func release(bytes: Int) {
        usage.withLockedValue { usage in
            usage.jobs -= 1
            usage.bytes -= bytes
        }
    }
}
