import Glibc
import TTBasics

/// What a failed TCP connect means, in words: shared by the direct path (libcurl reports the `errno` of the
/// last attempt as `CURLINFO_OS_ERRNO`) and the proxy path.
enum SocketConnector {
    static func failureMessage(_ code: Int32, _ endpoint: Endpoint, _ role: String) -> String {
        switch code {
        case ECONNREFUSED:
            "the \(role) \(endpoint) refused the connection: nothing is listening on port \(endpoint.port) there; "
                + "check the host and port"
        case ENETUNREACH, EHOSTUNREACH:
            "the \(role) \(endpoint) is unreachable (\(SystemError.describe(code))); check the address and the "
                + "network route"
        default:
            "cannot connect to the \(role) \(endpoint): \(SystemError.describe(code))"
        }
    }

    static func format(_ duration: Duration) -> String {
        duration.readable
    }
}
