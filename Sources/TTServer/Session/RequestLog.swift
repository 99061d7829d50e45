import Glibc
import NIOConcurrencyHelpers
import TTProtocol

/// An append-only record of every request the server executed, one line each (`tt-server --request-log`).
///
/// Made for fault-injection tests (`scripts/soak`): a client tags each request with an id in its opt-args, and
/// the log shows whether a request that must run at most once (Login, Logout) ran twice after a reconnect. A
/// line is `<pid> <session> <function> <opt-args>`, written with one `write(2)` on an `O_APPEND` file before the
/// answer leaves, so a server killed right after executing a request still leaves its line, and several
/// servers (or restarts of one) can share a file.
public final class RequestLog: Sendable {
    private let descriptor: Int32
    private let processID = getpid()
    private let sessions = NIOLockedValueBox<UInt64>(0)

    /// Opens (creating with mode 0600) `path` for appending.
    /// - Throws: ``RequestLogError`` when the file cannot be opened.
    public init(path: String) throws(RequestLogError) {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RequestLogError(description: "cannot open request log \(path): \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// A number naming one session in this process's lines.
    func newSession() -> UInt64 {
        sessions.withLockedValue { count in
            count += 1
            return count
        }
    }

    /// Appends the line for one executed request. A failed write is ignored: the log is a test aid and must not
    /// take the session down.
    func record(session: UInt64, function: FunctionCode, optArgs: UInt32) {
        let line = Array("\(processID) \(session) \(function) \(optArgs)\n".utf8)
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// The request log file could not be opened.
public struct RequestLogError: Error, CustomStringConvertible {
    public var description: String
}
