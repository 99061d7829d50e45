import Dispatch
import NIOCore
import NIOPosix
import Synchronization
import TTPasswordChecks
import Testing

/// The shared fair queue of password checks (tt-server's Login and tt-proxy's Basic auth), driven directly.
@Suite("PasswordCheckQueue")
struct PasswordCheckQueueTests {
    @Test("guesses naming a known user from new addresses: at most userTrustFailures on trust, behind her address")
    func userTrustIsBoundedBeforeAnyFailure() async throws {
        try await withThreadPool(threads: 1) { pool in
            let limits = PasswordCheckQueue.Limits(
                maxRunning: 1,
                maxQueuedPerSource: 8,
                maxQueued: 1024,
                // No room for unproven checks: a guess admitted while the slot is held rode on alice's trust.
                maxQueuedUnproven: 0
            )
            let queue = PasswordCheckQueue(threadPool: pool, limits: limits)
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            // alice succeeded from her address: both are known now.
            #expect(try await #require(queue.submit(source: "192.0.2.1", user: "alice", on: loop) { true }).get())

            // Her next check holds the only slot while 20 guesses naming her arrive from 20 new addresses: none
            // of them has failed yet when the next arrives (tt-proxy measured 83 of them waiting in front of her).
            let release = DispatchSemaphore(value: 0)
            let order = Mutex<[String]>([])
            let holding = try #require(
                queue.submit(source: "192.0.2.1", user: "alice", on: loop) {
                    release.wait()
                    return true
                }
            )
            var guesses: [EventLoopFuture<Bool>] = []
            for index in 0..<20 {
                let guess = queue.submit(source: "198.51.100.\(index)", user: "alice", on: loop) {
                    order.withLock { $0.append("guess") }
                    return false
                }
                if let guess { guesses.append(guess) }
            }
            #expect(guesses.count == limits.userTrustFailures, "guesses admitted on alice's trust")
            let known = try #require(
                queue.submit(source: "192.0.2.1", user: "alice", on: loop) {
                    order.withLock { $0.append("alice") }
                    return true
                }
            )
            release.signal()
            #expect(try await holding.get())
            #expect(try await known.get())
            for guess in guesses { #expect(try await !guess.get()) }

            // Her known address goes first; the guesses on her trust after it.
            #expect(order.withLock { $0 } == ["alice"] + Array(repeating: "guess", count: guesses.count))
        }
    }
}
