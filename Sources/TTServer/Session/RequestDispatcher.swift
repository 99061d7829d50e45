import TTProtocol

/// What each function does, and the login state of one session (PROTOCOL.md §3).
///
/// Pure: password checks and delays are left to the caller (``SessionHandler``) so that they run off the event
/// loop; this type only decides.
struct RequestDispatcher {
    /// What the session should do with a request.
    enum Outcome {
        /// Answer at once.
        case respond(ResponsePacket)
        /// Check these credentials off the event loop, then call ``RequestDispatcher/finishLogin(user:outcome:)``.
        case verifyLogin(LoginPayload)
    }

    /// The user logged in on this session, if any.
    private(set) var user: String?
    private(set) var failedLogins = 0
    let maxFailedLogins: Int
    /// Where executed requests are recorded (`--request-log`), and this session's number in it.
    private let requestLog: RequestLog?
    private let session: UInt64
    /// The opt-args of the Login being verified, for its line in the request log.
    private var loginOptArgs: UInt32 = 0

    init(maxFailedLogins: Int, requestLog: RequestLog? = nil) {
        self.maxFailedLogins = maxFailedLogins
        self.requestLog = requestLog
        self.session = requestLog?.newSession() ?? 0
    }

    mutating func handle(_ request: RequestPacket) -> Outcome {
        switch request.function {
        case .ping:
            record(request)
            return .respond(ResponsePacket(rc: .requestOK))
        case .echo:
            // The answer states the payload's length in 4 bytes. A longer payload (possible only with a
            // maxInflatedSize over 4 GiB) is refused: UInt32(_:) trapped there and ended every session.
            guard let count = UInt32(exactly: request.payload.count) else {
                return .respond(ResponsePacket(rc: .badRequest))
            }
            record(request)
            return .respond(ResponsePacket(rc: .requestOK, count: count, payload: request.payload))
        case .login:
            guard let login = try? LoginPayload(parsing: request.payload) else {
                return .respond(ResponsePacket(rc: .badRequest))
            }
            loginOptArgs = request.optArgs
            return .verifyLogin(login)
        case .logout:
            guard user != nil else { return .respond(ResponsePacket(rc: .notLoggedIn)) }
            record(request)
            user = nil
            return .respond(ResponsePacket(rc: .requestOK))
        default:
            return .respond(ResponsePacket(rc: .unknownFunction))
        }
    }

    /// What became of a Login's password check.
    enum LoginOutcome {
        case accepted
        case rejected
        /// Not checked: the login queue was full. Counts as a failed login, so a flooding session is closed.
        case busy
        /// The check itself failed (the job could not run): answered `Server busy`; not a wrong password, so it
        /// does not count towards closing the session.
        case failed
    }

    /// Records the result of a password check.
    /// - Returns: The answer, and whether the session has now failed too many logins and must close.
    mutating func finishLogin(user: String, outcome: LoginOutcome) -> (response: ResponsePacket, exhausted: Bool) {
        // Executed either way: a rejected Login counts towards closing the session.
        requestLog?.record(session: session, function: .login, optArgs: loginOptArgs)
        switch outcome {
        case .accepted:
            self.user = user
            return (ResponsePacket(rc: .requestOK), false)
        case .failed:
            return (ResponsePacket(rc: .serverBusy), false)
        case .rejected, .busy:
            failedLogins += 1
            let rc: ReturnCode = outcome == .busy ? .serverBusy : .loginRejected
            return (ResponsePacket(rc: rc), failedLogins >= maxFailedLogins)
        }
    }

    /// Records a request that has run (it changed the session's state, or its answer is decided).
    private func record(_ request: RequestPacket) {
        requestLog?.record(session: session, function: request.function, optArgs: request.optArgs)
    }
}
