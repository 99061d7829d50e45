import NIOCore
import NIOPosix
import TTBasics

/// What the client is told when the target cannot be reached.
struct DialFailure {
    var status: Int
    var outcome: String
    var message: String

    init(error: any Error, target: ConnectTarget, timeout: Duration) {
        if case ChannelError.connectTimeout = error {
            status = 504
            outcome = "connect-timeout"
            message = "tt-proxy: connecting to \(target) timed out after \(timeout.wholeMilliseconds) ms"
            return
        }
        status = 502
        if let error = error as? NIOConnectionError {
            if error.connectionErrors.isEmpty {
                outcome = "unresolved"
                message = "tt-proxy: the target host \(target.host) does not resolve; check the name"
            } else {
                outcome = "connect-failed"
                let reasons = Set(error.connectionErrors.map { Self.describe($0.error) }).sorted()
                message = "tt-proxy could not connect to \(target): \(reasons.joined(separator: "; "))"
            }
        } else {
            outcome = "connect-failed"
            message = "tt-proxy could not connect to \(target): \(Self.describe(error))"
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        return "\(error)"
    }
}
