import Testing

@testable import TTClient

/// Every transition of the retry decision, with no I/O: the machine alone says whether a failure is tried again.
@Suite("RetryStateMachine")
struct RetryStateMachineTests {
    typealias Machine = RetryStateMachine

    /// A machine in `phase`, with `reconnects` left, for a request that is (or is not) idempotent.
    private func machine(_ phase: Machine.Phase, reconnects: Int = 1, idempotent: Bool = false) -> Machine {
        var machine = Machine(policy: ReconnectPolicy(maxReconnects: reconnects), idempotent: idempotent)
        switch phase {
        case .connecting:
            machine.connecting()
        case .loggingIn(let written):
            machine.loggingIn()
            if written { machine.wrote() }
        case .requesting(let written):
            machine.requesting()
            if written { machine.wrote() }
        }
        #expect(machine.phase == phase)
        return machine
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var phase: Machine.Phase
        var failure: Machine.Failure
        var idempotent: Bool
        var expected: Machine.Action
        var testDescription: String { "\(phase) \(failure) idempotent=\(idempotent) → \(expected)" }
    }

    private static let backoff = Machine.Action.retry(after: .milliseconds(25))
    private static let now = Machine.Action.retry(after: .zero)
    private static let fail = Machine.Action.fail(outcomeUnknown: false)
    private static let unknown = Machine.Action.fail(outcomeUnknown: true)

    /// The whole table, with one reconnect left, no overall limit, and jitter 0 (the lower half of 50 ms).
    static let table: [Row] = [
        // Setup: a refused connection or a close before the hello is tried again after a backoff.
        Row(phase: .connecting, failure: .setupTransient, idempotent: false, expected: backoff),
        Row(phase: .connecting, failure: .connectionLost, idempotent: false, expected: now),
        Row(phase: .connecting, failure: .loginBusy, idempotent: false, expected: fail),
        Row(phase: .connecting, failure: .final, idempotent: false, expected: fail),
        Row(phase: .connecting, failure: .final, idempotent: true, expected: fail),
        // A Login of which nothing left may be sent on a new connection.
        Row(phase: .loggingIn(written: false), failure: .setupTransient, idempotent: false, expected: backoff),
        Row(phase: .loggingIn(written: false), failure: .connectionLost, idempotent: false, expected: now),
        Row(phase: .loggingIn(written: false), failure: .loginBusy, idempotent: false, expected: fail),
        Row(phase: .loggingIn(written: false), failure: .final, idempotent: false, expected: fail),
        // A Login that left is never sent again, unless the server said it did not check it (busy).
        Row(phase: .loggingIn(written: true), failure: .setupTransient, idempotent: false, expected: fail),
        Row(phase: .loggingIn(written: true), failure: .connectionLost, idempotent: false, expected: fail),
        Row(phase: .loggingIn(written: true), failure: .connectionLost, idempotent: true, expected: fail),
        Row(phase: .loggingIn(written: true), failure: .loginBusy, idempotent: false, expected: backoff),
        Row(phase: .loggingIn(written: true), failure: .final, idempotent: false, expected: fail),
        // A request of which nothing left goes out on a new connection at once.
        Row(phase: .requesting(written: false), failure: .connectionLost, idempotent: false, expected: now),
        Row(phase: .requesting(written: false), failure: .connectionLost, idempotent: true, expected: now),
        Row(phase: .requesting(written: false), failure: .setupTransient, idempotent: false, expected: now),
        Row(phase: .requesting(written: false), failure: .loginBusy, idempotent: false, expected: fail),
        Row(phase: .requesting(written: false), failure: .final, idempotent: false, expected: fail),
        // A request that left: again only when idempotent; otherwise its outcome is unknown.
        Row(phase: .requesting(written: true), failure: .connectionLost, idempotent: true, expected: now),
        Row(phase: .requesting(written: true), failure: .connectionLost, idempotent: false, expected: unknown),
        Row(phase: .requesting(written: true), failure: .setupTransient, idempotent: false, expected: unknown),
        Row(phase: .requesting(written: true), failure: .setupTransient, idempotent: true, expected: now),
        Row(phase: .requesting(written: true), failure: .loginBusy, idempotent: true, expected: fail),
        Row(phase: .requesting(written: true), failure: .final, idempotent: true, expected: fail),
        Row(phase: .requesting(written: true), failure: .final, idempotent: false, expected: fail),
    ]

    @Test("each phase and failure gives the action of the table", arguments: table)
    func transition(row: Row) {
        var machine = machine(row.phase, idempotent: row.idempotent)
        #expect(machine.failed(row.failure, remaining: nil, jitter: 0) == row.expected)
        if case .retry = row.expected {
            #expect(machine.phase == .connecting, "a retry starts with a new connection")
        }
    }

    @Test("a reconnect takes one of the budget; with none left, the same failure fails (outcome unknown stays)")
    func budget() {
        var machine = machine(.requesting(written: false), reconnects: 2)
        #expect(machine.failed(.connectionLost, remaining: nil, jitter: 0) == Self.now)
        #expect(machine.reconnectsLeft == 1)
        machine.requesting()
        #expect(machine.failed(.connectionLost, remaining: nil, jitter: 0) == Self.now)
        machine.requesting()
        #expect(machine.failed(.connectionLost, remaining: nil, jitter: 0) == Self.fail)

        var none = self.machine(.connecting, reconnects: 0)
        #expect(none.failed(.setupTransient, remaining: nil, jitter: 0) == Self.fail)
        var idempotentNone = self.machine(.requesting(written: true), reconnects: 0, idempotent: true)
        #expect(idempotentNone.failed(.connectionLost, remaining: nil, jitter: 0) == Self.fail)
        var unknownNone = self.machine(.requesting(written: true), reconnects: 0)
        #expect(unknownNone.failed(.connectionLost, remaining: nil, jitter: 0) == Self.unknown)
    }

    @Test("writing during connecting changes nothing; a write marks only the current request")
    func wroteMarksCurrentRequest() {
        var machine = Machine(policy: .once, idempotent: false)
        machine.wrote()
        #expect(machine.phase == .connecting)
        machine.loggingIn()
        machine.wrote()
        #expect(machine.phase == .loggingIn(written: true))
        machine.requesting()
        #expect(machine.phase == .requesting(written: false), "the Login's bytes are not the request's")
    }

    @Test("the backoff doubles from 50 ms up to 1 s, jitter spreads it over the upper half")
    func backoffGrowth() {
        var machine = machine(.connecting, reconnects: 20)
        var delays: [Duration] = []
        for _ in 0..<7 {
            guard case .retry(let delay) = machine.failed(.setupTransient, remaining: nil, jitter: 1) else {
                Issue.record("no retry")
                return
            }
            delays.append(delay)
        }
        #expect(delays == [50, 100, 200, 400, 800, 1000, 1000].map { Duration.milliseconds($0) })
        #expect(machine.backoff(0) == .milliseconds(500))
        #expect(machine.backoff(0.5) == .milliseconds(750))
    }

    @Test("a retry whose wait would outlast the time left fails instead")
    func deadline() {
        var machine = machine(.connecting)
        #expect(machine.failed(.setupTransient, remaining: .milliseconds(20), jitter: 0) == Self.fail)
        #expect(machine.reconnectsLeft == 1, "a refused retry takes nothing of the budget")
        #expect(machine.failed(.setupTransient, remaining: .milliseconds(30), jitter: 0) == Self.backoff)

        var expired = self.machine(.requesting(written: false))
        #expect(expired.failed(.connectionLost, remaining: .zero, jitter: 0) == Self.fail)
    }

    @Test("a busy Login is waited out with backoff, without the reconnect budget, at most 8 times")
    func busyLogin() {
        var machine = machine(.loggingIn(written: true), reconnects: 0)
        var waits = 0
        // Bounded: the machine allows at most maxBusyRetries; 20 rounds prove it stops.
        for _ in 0..<20 {
            guard case .retry = machine.failed(.loginBusy, remaining: .seconds(60), jitter: 0) else { break }
            waits += 1
            machine.loggingIn()
            machine.wrote()
        }
        #expect(waits == Machine.maxBusyRetries)
        #expect(machine.reconnectsLeft == 0)

        var late = self.machine(.loggingIn(written: true))
        #expect(late.failed(.loginBusy, remaining: .milliseconds(10), jitter: 0) == Self.fail)
    }
}
