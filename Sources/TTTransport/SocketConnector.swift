import TTBasics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Resolves a name and connects a non-blocking TCP socket to the first address that answers.
enum SocketConnector {
    struct Connected {
        var descriptor: Int32
        var address: String
    }

    /// - Parameters:
    ///   - stage / category: what a failure is reported as (the server, or a proxy).
    ///   - role: "server" or "proxy", for messages.
    static func connect(
        to endpoint: Endpoint,
        deadline: Deadline,
        stage: TransportError.Stage,
        category: TransportError.Category,
        role: String
    ) throws -> Connected {
        let started = ContinuousClock.now
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard resolved == 0, let first = list else {
            let reason = resolved == EAI_SYSTEM ? SystemError.describe(errno) : String(cString: gai_strerror(resolved))
            throw TransportError(
                stage: stage,
                category: category,
                message: "cannot resolve the \(role) name \"\(endpoint.host)\" (\(endpoint)): \(reason); "
                    + "check the \(role) name"
            )
        }
        defer { freeaddrinfo(list) }

        var lastError: Int32 = ECONNREFUSED
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let address = info.pointee.ai_addr else { continue }
            let descriptor = socket(
                info.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                    | Int32(SOCK_CLOEXEC.rawValue),
                0
            )
            guard descriptor >= 0 else {
                lastError = errno
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let outcome = attempt(descriptor, address, info.pointee.ai_addrlen, deadline)
            switch outcome {
            case .connected:
                let text =
                    SocketAddressText.describe(address, length: info.pointee.ai_addrlen) ?? endpoint.description
                return Connected(descriptor: descriptor, address: text)
            case .failed(let code):
                _ = Glibc.close(descriptor)
                lastError = code
            case .timedOut:
                _ = Glibc.close(descriptor)
                let elapsed = ContinuousClock.now - started
                throw TransportError(
                    stage: stage,
                    category: .timedOut,
                    message: "connecting to the \(role) \(endpoint) timed out after \(format(elapsed)) "
                        + "(no answer to the TCP connection attempt)"
                )
            }
        }
        throw TransportError(stage: stage, category: category, message: failureMessage(lastError, endpoint, role))
    }

    private enum Outcome {
        case connected
        case failed(Int32)
        case timedOut
    }

    private static func attempt(
        _ descriptor: Int32,
        _ address: UnsafePointer<sockaddr>,
        _ length: socklen_t,
        _ deadline: Deadline
    ) -> Outcome {
        if Glibc.connect(descriptor, address, length) == 0 { return .connected }
        guard errno == EINPROGRESS || errno == EINTR else { return .failed(errno) }
        do {
            guard try Poll.wait(descriptor, for: Int16(POLLOUT), until: deadline) else { return .timedOut }
        } catch {
            return .failed(errno)
        }
        var code: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &code, &size) == 0 else { return .failed(errno) }
        return code == 0 ? .connected : .failed(code)
    }

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
