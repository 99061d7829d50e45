/// Why the server closed a session, beyond the protocol errors of TTProtocol; logged as the `reason`.
enum SessionFailure: Error, CustomStringConvertible {
    /// No complete ClientHello within the handshake deadline.
    case handshakeTimeout(seconds: Double)
    /// The peer closed with part of a frame still unread.
    case truncatedFrame(buffered: Int)
    /// The peer sent a request packet the server cannot answer (a response, for example).
    case unexpectedPacket(String)
    /// Too many failed logins on one session.
    case tooManyFailedLogins(Int)

    var description: String {
        switch self {
        case .handshakeTimeout(let seconds):
            "no complete handshake within \(seconds) s"
        case .truncatedFrame(let buffered):
            "connection closed in the middle of a frame (\(buffered) bytes buffered)"
        case .unexpectedPacket(let what):
            "unexpected packet: \(what)"
        case .tooManyFailedLogins(let count):
            "\(count) failed logins on one session"
        }
    }
}
