import Foundation

/// The status line's code and the body of one plain HTTP/1.1 answer.
public struct HTTPAnswer: Sendable {
    public var status: Int
    public var body: String
}

/// `GET path` from `host:port` over plain HTTP/1.1 with `Connection: close` (the admin listener), read to the end.
/// Blocking socket calls on a background thread, bounded by `timeout`.
public func httpGet(
    host: String = "127.0.0.1",
    port: Int,
    path: String,
    timeout: Duration = .seconds(10)
) async throws
    -> HTTPAnswer
{
    try await runBlocking {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ProcessRunError(description: "socket: \(errno)") }
        defer { close(descriptor) }
        var seconds = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &seconds, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ProcessRunError(description: "connect to \(host):\(port): \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw ProcessRunError(description: "send to \(host):\(port): \(errno)")
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count == 0 { break }
            guard count > 0 else { throw ProcessRunError(description: "recv from \(host):\(port): \(errno)") }
            received += chunk[0..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n", maxSplits: 1).first,
            let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw ProcessRunError(description: "no HTTP status line from \(host):\(port): \(text)") }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return HTTPAnswer(status: status, body: body)
    }
}
