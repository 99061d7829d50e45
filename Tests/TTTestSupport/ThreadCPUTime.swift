import Glibc

/// The CPU time the calling thread spends in `body`, in seconds: what other processes do with the cores does
/// not count, so a cost comparison holds on a loaded machine.
public func threadCPUTime(_ body: () -> Void) -> Double {
    func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
    let start = now()
    body()
    return now() - start
}
