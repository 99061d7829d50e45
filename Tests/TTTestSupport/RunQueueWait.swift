import Foundation

/// How long threads of this process have waited for a CPU while runnable: the second field of
/// `/proc/self/task/TID/schedstat`, in nanoseconds. On a loaded machine a thread woken at once may still wait
/// tens of milliseconds before it runs (measured: a process here waited twice as long as it ran while others
/// compiled); that share of a latency is the machine's, not the code's.
public struct RunQueueWaits: Sendable {
    private var waits: [Int32: Int64] = [:]

    /// The waits so far of the threads `ids` that are still there.
    public init(threads ids: [Int32]) {
        for id in ids {
            if let wait = Self.wait(of: id) { waits[id] = wait }
        }
    }

    /// What the threads of `earlier` waited since then, summed over those still there now; a thread that has
    /// ended counts nothing after `earlier` (so the sum never exceeds what was really waited).
    public func waited(since earlier: RunQueueWaits) -> Duration {
        var total: Int64 = 0
        for (id, before) in earlier.waits {
            if let now = waits[id], now > before { total += now - before }
        }
        return .nanoseconds(total)
    }

    /// The IDs of this process's threads named exactly `name` (`/proc/self/task/TID/comm`).
    public static func threads(named name: String) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { task in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name ? Int32(task) : nil
        }
    }

    /// The kernel's ID of the calling thread (`/proc/thread-self` links to `PID/task/TID`).
    public static var currentThread: Int32 {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int32(link.split(separator: "/").last ?? "") ?? 0
    }

    private static func wait(of id: Int32) -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(id)/schedstat", encoding: .utf8) else {
            return nil
        }
        let fields = text.split(separator: " ")
        return fields.count >= 2 ? Int64(fields[1]) : nil
    }
}
