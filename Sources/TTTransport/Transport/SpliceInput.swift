// CCurl declares the socket constants for this module (see Relay.swift) and wraps splice(2).
import CCurl
import Glibc

/// A transport whose writes are plain `send(2)`s on its socket, with nothing in between: no TLS, and no buffer
/// in libcurl (a raw connection, direct or through an http:// proxy once the tunnel stands).
protocol PlainSocketTransport: Transport {
    /// That socket, or `nil` while writes go through TLS.
    var plainSocket: Int32? { get }
}

extension DirectTransport: PlainSocketTransport {}
extension HTTPProxyTransport: PlainSocketTransport {}

/// Moves a relay's input to the peer inside the kernel: `sendfile(2)` from a regular file, `splice(2)` from a
/// pipe (what `pipe` reads under ssh). The bytes never enter this process, which saves a copy out of the page
/// cache or pipe and one back into the socket, and the relay's reads.
struct SpliceInput {
    private enum Kind { case file, pipe }

    enum Outcome {
        case moved(Int)
        case endOfInput
        /// The socket takes nothing more for now: wait until it is writable.
        case socketFull
        /// A pipe that reported readable held nothing after all: wait until it is readable.
        case inputEmpty
        /// The kernel cannot move these descriptors: copy through the relay's buffer instead.
        case unsupported
    }

    private let kind: Kind
    private let input: Int32
    private let socket: Int32

    /// `nil` unless `input` is a regular file or a pipe, the transport writes a plain non-blocking socket, and
    /// `SIGPIPE` is ignored: `sendfile` and `splice` cannot be told `MSG_NOSIGNAL`, and without `O_NONBLOCK` a
    /// full socket would block the relay's one thread, the other direction with it.
    init?(input: Int32, transport: any Transport) {
        guard let plain = transport as? any PlainSocketTransport, let socket = plain.plainSocket else { return nil }
        let flags = fcntl(socket, F_GETFL)
        guard flags >= 0, flags & O_NONBLOCK != 0, Self.sigpipeIgnored else { return nil }
        var status = stat()
        guard fstat(input, &status) == 0 else { return nil }
        switch status.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFIFO: kind = .pipe
        default: return nil
        }
        self.input = input
        self.socket = socket
    }

    /// Moves at most `count` bytes without blocking.
    /// - Throws: ``TransportError`` (stage ``TransportError/Stage/io``) when the socket fails.
    func move(upTo count: Int, peer: String) throws -> Outcome {
        while true {
            let moved =
                kind == .file
                ? sendfile(socket, input, nil, count)
                : CCurl_splice_nonblocking(input, socket, count)
            if moved > 0 { return .moved(moved) }
            if moved == 0 { return .endOfInput }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN:
                guard kind == .pipe else { return .socketFull }
                // Either end may be the one that would block: ask the socket.
                var entry = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
                return Glibc.poll(&entry, 1, 0) == 1 ? .inputEmpty : .socketFull
            case EINVAL, ENOSYS, EOPNOTSUPP: return .unsupported
            default:
                throw TransportError(
                    stage: .io,
                    category: [ECONNRESET, EPIPE, ENOTCONN, ECONNABORTED].contains(code)
                        ? .connectionClosed : .internalError,
                    message: "sending to \(peer) failed: \(SystemError.describe(code))"
                )
            }
        }
    }

    private static var sigpipeIgnored: Bool {
        var action = sigaction()
        guard sigaction(SIGPIPE, nil, &action) == 0 else { return false }
        return unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
            == unsafeBitCast(SIG_IGN, to: Int.self)
    }
}
