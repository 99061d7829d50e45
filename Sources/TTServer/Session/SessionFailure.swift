/// Why the server closed a session, beyond the protocol errors of TTProtocol; logged as the `reason`.
enum SessionFailure: Error, CustomStringConvertible {
    /// No complete ClientHello within the handshake deadline.
    case handshakeTimeout(seconds: Double)
    /// The peer closed with part of a frame still unread.
    case truncatedFrame(buffered: Int)
    /// The peer sent a request packet the server cannot answer (a response, for example).
    case unexpectedPacket(String)
    /// Too many failed (or refused as busy) logins on one session.
    case tooManyFailedLogins(Int)
    /// A frame longer than a session that has not logged in may send.
    case frameTooLargeBeforeLogin(length: Int, limit: Int)
    /// The session asked for more buffer than the server-wide budget had left.
    case bufferBudgetExhausted(holding: Int, asked: Int)
    /// A frame that had begun to arrive was not complete within the frame timeout.
    case frameTimeout(seconds: Double)

    var description: String {
        switch self {
        case .handshakeTimeout(let seconds):
            "no complete handshake within \(seconds) s"
        case .truncatedFrame(let buffered):
            "connection closed in the middle of a frame (\(buffered) bytes buffered)"
        case .unexpectedPacket(let what):
            "unexpected packet: \(what)"
        case .tooManyFailedLogins(let count):
            "\(count) failed logins on one session (busy answers included)"
        case .frameTooLargeBeforeLogin(let length, let limit):
            "frame length \(length) before login (limit \(limit) until the session has logged in)"
        case .bufferBudgetExhausted(let holding, let asked):
            "server buffer budget exhausted (session holds \(holding) bytes, asked for \(asked) more)"
        case .frameTimeout(let seconds):
            "a frame was not complete within \(seconds) s of its first byte"
        }
    }
}
