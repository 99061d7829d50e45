import Glibc
import TTProtocol
import TTTestSupport
import Testing

@testable import TTServer

/// What a failed Login costs must not depend on the name it gives: an unknown name, or a user whose hash is cheaper
/// than the others' (made with a lower `--iterations`, or kept from an older default), must not answer faster.
@Suite("Users failure cost")
struct UsersFailureCostTests {
    @Test("A wrong password costs the costliest hash's work, for an unknown name and for a user with a cheap hash")
    func failuresCostTheSame() {
        var entries = ["slow": PasswordHash(hashing: "slow-pass", iterations: 100_000)]
        for index in 1...3 { entries["cheap\(index)"] = PasswordHash(hashing: "pass\(index)", iterations: 1) }
        let users = UserDirectory(entries)
        // CPU time of this thread, median of three: what other processes do with the cores does not count.
        func cost(_ user: String) -> Double {
            median((0..<3).map { _ in threadCPUTime { #expect(!users.verify(user: user, password: "wrong")) } })
        }
        // The first hash of the process pays for loading and warming what it uses (it measured 40 ms against
        // 23 ms later): not counted. Each user is then compared with the costly one measured right beside it.
        _ = users.verify(user: "slow", password: "wrong")
        for user in ["cheap1", "cheap2", "cheap3", "nobody", "mallory"] {
            let slow = cost("slow")
            let other = cost(user)
            // Without padding a cheap user's failure took 1 iteration (microseconds), an unknown name's that of
            // whichever user the dictionary listed first.
            #expect(other >= 0.6 * slow && other <= 1.7 * slow, "\(user): \(other * 1000) ms, slow: \(slow * 1000) ms")
        }
        #expect(users.verify(user: "cheap2", password: "pass2"))
        #expect(users.verify(user: "slow", password: "slow-pass"))
    }

    @Test("A hash of 64 bytes counts twice its iterations: a cheaper user's failure is padded to it")
    func longHashCountsTwice() {
        let users = UserDirectory([
            "long": try! PasswordHash(
                parsing: "pbkdf2-sha256$50000$AAAAAAAAAAAAAAAAAAAAAA==$" + String(repeating: "AAAA", count: 21) + "AA=="
            ),
            "short": PasswordHash(hashing: "pw", iterations: 25_000),
        ])
        let long = median((0..<3).map { _ in threadCPUTime { _ = users.verify(user: "long", password: "x") } })
        let short = median((0..<3).map { _ in threadCPUTime { _ = users.verify(user: "short", password: "x") } })
        #expect(short >= 0.6 * long, "short: \(short * 1000) ms, long: \(long * 1000) ms")
    }
}

private func median(_ values: [Double]) -> Double {
    values.sorted()[values.count / 2]
}
