/// Decides, for one ``FrameworkClient`` call, whether a failure may be tried again: a value with no I/O, in the
/// style of AsyncHTTPClient's `HTTPRequestStateMachine`.
///
/// The client reports what it is doing (``connecting()``, ``loggingIn()``, ``requesting()``), every byte it writes
/// of the current request, Login included (``wrote()``), and each failure (``failed(_:remaining:jitter:)``); the
/// machine answers retry (after how long) or fail. Exactly-once follows from its table, not from error categories:
/// - connection setup (connect refused, a close before the framework hello, a proxy that could not reach the server)
///   is tried again with jittered exponential backoff, within the reconnect budget and the time left;
/// - a session found closed before any byte of the request was written is reopened at once, within the budget;
/// - once any byte of a request was written, it goes out again only when its function is idempotent (Ping, Echo);
///   a non-idempotent one whose connection broke is reported as outcome unknown;
/// - a Login answered "Server busy" (the server says it did not check it) is tried again with jittered backoff
///   while time is left, at most ``maxBusyRetries`` times;
/// - anything else (name resolution, TLS, identity, a rejected or corrupt answer, a timeout) fails at once.
struct RetryStateMachine: Sendable, Hashable {
    /// What the client is doing for the call.
    enum Phase: Sendable, Hashable {
        /// Opening the connection: TCP, proxy tunnel, TLS, framework handshake.
        case connecting
        /// Logging in; `written` once any byte of the Login left.
        case loggingIn(written: Bool)
        /// Sending the caller's request; `written` once any byte of it left.
        case requesting(written: Bool)
    }

    /// What went wrong, as far as retrying is concerned.
    enum Failure: Sendable, Hashable {
        /// Setup failed before anything of the session existed: refused, closed before the framework hello,
        /// the proxy could not reach the server (502-504).
        case setupTransient
        /// The established connection was found closed, or broke while writing or reading.
        case connectionLost
        /// The server answered the Login with "Server busy": it did not check it.
        case loginBusy
        /// Never worth trying again: DNS, TLS, identity, rejection, a corrupt answer, a timeout, a usage error.
        case final
    }

    /// What the client does next.
    enum Action: Sendable, Hashable {
        /// Open a new connection after waiting `after`, and go on.
        case retry(after: Duration)
        /// Give up with the failure; `outcomeUnknown` when a non-idempotent request may have run on the server.
        case fail(outcomeUnknown: Bool)
    }

    /// Backoff before the first delayed retry; doubles each time up to ``maxBackoff``.
    static let initialBackoff = Duration.milliseconds(50)
    /// The longest backoff before one retry.
    static let maxBackoff = Duration.seconds(1)
    /// How many "Server busy" answers to a Login one call waits out (the time left bounds it too).
    static let maxBusyRetries = 8

    private(set) var phase = Phase.connecting
    /// New connections the call may still open after a failure (``ReconnectPolicy/maxReconnects``).
    private(set) var reconnectsLeft: Int
    /// "Server busy" answers waited out so far.
    private(set) var busyRetries = 0
    /// Delayed retries so far: the exponent of the backoff.
    private(set) var backoffs = 0
    /// Whether the request of this call may run twice without harm.
    let idempotent: Bool

    /// A machine for one call: `idempotent` tells whether the caller's request may run twice (a bare connect
    /// sends none: `false`).
    init(policy: ReconnectPolicy, idempotent: Bool) {
        reconnectsLeft = policy.maxReconnects
        self.idempotent = idempotent
    }

    /// A new connection is being opened.
    mutating func connecting() { phase = .connecting }

    /// The Login is about to be written.
    mutating func loggingIn() { phase = .loggingIn(written: false) }

    /// The caller's request is about to be written.
    mutating func requesting() { phase = .requesting(written: false) }

    /// At least one byte of the current request (Login or the caller's) has been handed to the connection.
    mutating func wrote() {
        switch phase {
        case .connecting: break
        case .loggingIn: phase = .loggingIn(written: true)
        case .requesting: phase = .requesting(written: true)
        }
    }

    /// Decides what follows `failure`.
    /// - Parameters:
    ///   - remaining: time left for the whole call (`nil`: no overall limit); a retry must start before it ends.
    ///   - jitter: a value in `0..<1` (random in use, fixed in tests) spreading the backoff over its upper half.
    mutating func failed(_ failure: Failure, remaining: Duration?, jitter: Double) -> Action {
        switch (phase, failure) {
        case (_, .final):
            return .fail(outcomeUnknown: false)
        case (.connecting, .setupTransient), (.loggingIn(written: false), .setupTransient):
            return reconnect(after: backoff(jitter), remaining: remaining, outcomeUnknown: false)
        case (.connecting, .connectionLost), (.loggingIn(written: false), .connectionLost),
            (.requesting(written: false), .connectionLost), (.requesting(written: false), .setupTransient):
            // Nothing of the request left: reopening cannot run anything twice. No wait: a server that timed an
            // idle session out takes a new one at once.
            return reconnect(after: .zero, remaining: remaining, outcomeUnknown: false)
        case (.requesting(written: true), .connectionLost), (.requesting(written: true), .setupTransient):
            guard idempotent else { return .fail(outcomeUnknown: true) }
            return reconnect(after: .zero, remaining: remaining, outcomeUnknown: false)
        case (.loggingIn(written: true), .loginBusy):
            let delay = backoff(jitter)
            guard busyRetries < Self.maxBusyRetries, fits(delay, in: remaining) else {
                return .fail(outcomeUnknown: false)
            }
            busyRetries += 1
            backoffs += 1
            phase = .connecting
            return .retry(after: delay)
        case (.loggingIn(written: true), _):
            // The server may have checked this Login (and counted a failure against the user): never again.
            return .fail(outcomeUnknown: false)
        case (_, .loginBusy):
            // Only a written Login can be answered busy; anything else claiming it is not trusted.
            return .fail(outcomeUnknown: false)
        }
    }

    private mutating func reconnect(after delay: Duration, remaining: Duration?, outcomeUnknown: Bool) -> Action {
        guard reconnectsLeft > 0, fits(delay, in: remaining) else { return .fail(outcomeUnknown: outcomeUnknown) }
        reconnectsLeft -= 1
        if delay > .zero { backoffs += 1 }
        phase = .connecting
        return .retry(after: delay)
    }

    /// The next backoff: `initialBackoff · 2^backoffs`, capped, scaled into its upper half by `jitter`.
    func backoff(_ jitter: Double) -> Duration {
        let exponent = min(backoffs, 10)
        let ceiling = min(Self.maxBackoff, Self.initialBackoff * (1 << exponent))
        return ceiling * (0.5 + 0.5 * min(max(jitter, 0), 1))
    }

    private func fits(_ delay: Duration, in remaining: Duration?) -> Bool {
        guard let remaining else { return true }
        return delay < remaining
    }
}
