import Foundation
import Synchronization
@testable import TTProxy
import Testing

/// Checking htpasswd passwords: concurrency of the slow hashes and what an unknown user costs.
@Suite("htpasswd verification")
struct HtpasswdTests {
    /// `htpasswd -nbB -C 9 parallel many-cores`: tens of milliseconds of CPU per check.
    static let bcrypt9 = "parallel:$2y$09$y3lBFx9VaBwDiyzyujWvLu6/18NtFWmUZ1MuKleyShaDvOwuGgtVm"

    /// Wall time against CPU time says nothing on a machine whose cores are busy with other work, so this watches
    /// the scheduler instead: a thread that waits for a lock sleeps (state `S`), one that is hashing — on a core or
    /// queued for one — is runnable (`R`). Serialised checks never have two checking threads runnable for long.
    @Test(
        "bcrypt checks on different threads run at the same time, not one after another",
        .enabled(if: FileManager.default.fileExists(atPath: "/proc/thread-self"))
    )
    func concurrentChecks() throws {
        let file = try HtpasswdFile(parsing: Self.bcrypt9)
        let workers = Mutex<[(task: String, checking: Bool)]>([])
        let done = DispatchSemaphore(value: 0)
        let accepted = Atomic<Int>(0)
        let threads = 4
        for index in 0..<threads {
            Thread {
                let task = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
                workers.withLock { $0.append((task, false)) }
                // Start together, so the checks overlap whenever nothing serialises them.
                while workers.withLock({ $0.count }) < threads { usleep(100) }
                workers.withLock { $0[index].checking = true }
                if file.verify(user: "parallel", password: "many-cores") { accepted.add(1, ordering: .relaxed) }
                workers.withLock { $0[index].checking = false }
                done.signal()
            }.start()
        }
        var samples = 0
        var overlapping = 0
        let deadline = ContinuousClock.now + .seconds(30)
        while accepted.load(ordering: .relaxed) < threads, ContinuousClock.now < deadline {
            let checking = workers.withLock { $0.filter(\.checking).map(\.task) }
            if checking.count >= 2 {
                samples += 1
                if checking.filter({ threadState($0) == "R" }).count >= 2 { overlapping += 1 }
            }
            usleep(500)
        }
        for _ in 0..<threads { done.wait() }
        #expect(accepted.load(ordering: .relaxed) == threads)
        #expect(samples >= 5, "too few samples while checks ran: \(samples)")
        #expect(overlapping * 2 > samples, "two or more checks runnable in \(overlapping) of \(samples) samples")
    }
}

/// The scheduler state letter of a thread of this process (`TASK` is `PID/task/TID` from `/proc/thread-self`).
private func threadState(_ task: String) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(task)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[close...].dropFirst(2).first
}
