import Foundation
import Glibc
import Synchronization
import TTTestSupport
import Testing

@testable import TTProxy

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

    /// Two cost-9 bcrypt users and one SHA-1 user: bcrypt is the file's dominant format.
    static let mostlyBcrypt = [
        bcrypt9,
        "erin:$2y$09$2Wb3id6N/qcv5/oqLhFHIuFnqq.lMnIYojLViQY6HI5v4UwrXyIZS",
        "frank:{SHA}+TZn7fWZ46mKKiU5vLTP4edh7sM=",
    ].joined(separator: "\n")

    @Test(
        "a hash whose work factor would stall every check is refused when the file loads (fuzz: $2y$24$)",
        arguments: [
            "alice:$2y$24$abcdefghijklmnopqrstuuHV0TqFh3tXbW8M1PVvOvL9zR0zJ2c6e",
            "alice:$2b$31$abcdefghijklmnopqrstuuHV0TqFh3tXbW8M1PVvOvL9zR0zJ2c6e",
            "alice:$5$rounds=2000000$salt$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        ]
    )
    func unboundedWorkFactorRefused(line: String) throws {
        let started = ContinuousClock.now
        #expect {
            _ = try HtpasswdFile(parsing: line)
        } throws: { error in
            "\(error)".contains("line 1") && "\(error)".contains("cost 17")
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(HtpasswdHash.workFactorIsBounded("$2y$17$x") && !HtpasswdHash.workFactorIsBounded("$2y$03$x"))
    }

    @Test("an unknown user is refused after a check as slow as a known user's, whatever the password")
    func unknownUserCostsAsMuch() throws {
        let file = try HtpasswdFile(parsing: Self.mostlyBcrypt)
        // CPU time, not wall time: it does not depend on what else the machine is doing.
        let known = threadCPUTime { #expect(!file.verify(user: "erin", password: "wrong")) }
        for (user, password) in [("mallory", "wrong"), ("mallory", "many-cores"), ("Erin", "erin-pass"), ("", "")] {
            let unknown = threadCPUTime { #expect(!file.verify(user: user, password: password)) }
            #expect(unknown > known / 2, "unknown user \(user): \(unknown) s of CPU; known user: \(known) s")
        }
        #expect(file.verify(user: "erin", password: "erin-pass"))
        #expect(file.verify(user: "frank", password: "frank-pass"))
    }

    static let mostlyApr1 = [
        "bob:$apr1$GQxSHb5K$e7BbRKPHhV36gxJkubWdN/", "gina:$apr1$NUCA.phd$.6QcxqLa81lHEYkQYH6C40", bcrypt9,
    ].joined(separator: "\n")

    @Test("refusals cost as much as the slowest hash even when most users have cheap ones (no user enumeration)")
    func refusalsCostAsMuchAsTheSlowestHash() throws {
        let file = try HtpasswdFile(parsing: Self.mostlyApr1)
        let slowUser = threadCPUTime { #expect(!file.verify(user: "parallel", password: "wrong")) }
        let unknown = threadCPUTime { #expect(!file.verify(user: "mallory", password: "wrong")) }
        let cheapUser = threadCPUTime { #expect(!file.verify(user: "bob", password: "wrong")) }
        #expect(unknown > slowUser / 2, "unknown user: \(unknown) s of CPU; bcrypt user: \(slowUser) s")
        #expect(cheapUser > slowUser / 2, "apr1 user: \(cheapUser) s of CPU; bcrypt user: \(slowUser) s")
        #expect(cheapUser < slowUser * 3, "apr1 user: \(cheapUser) s of CPU; bcrypt user: \(slowUser) s")
        #expect(file.verify(user: "bob", password: "b0b-pass"))
    }

    @Test("the decoy is a hash of the slowest format and work factor in the file")
    func decoyFollowsTheFile() throws {
        #expect(try HtpasswdFile(parsing: Self.mostlyBcrypt).decoy?.costClass == "$2y$09$")
        #expect(try HtpasswdFile(parsing: Self.mostlyApr1).decoy?.costClass == "$2y$09$")
        #expect(try HtpasswdFile(parsing: "# no users\n").decoy == nil)
        #expect(try !HtpasswdFile(parsing: "# no users\n").verify(user: "anyone", password: ""))
    }
}

/// The scheduler state letter of a thread of this process (`TASK` is `PID/task/TID` from `/proc/thread-self`).
private func threadState(_ task: String) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(task)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[close...].dropFirst(2).first
}
