import Glibc

/// The soft limit on open descriptors of this process.
package enum OpenFileLimit {
    /// Raises the soft limit to the hard limit: every connection is a descriptor, and the usual default soft
    /// limit (1024) would cap a server at about that many clients, well below its `--max-connections`.
    /// - Returns: The soft limit now in force, or `nil` when it cannot be read.
    @discardableResult
    package static func raiseToHardLimit() -> UInt64? {
        var limit = rlimit()
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return UInt64(limit.rlim_cur)
    }
}
