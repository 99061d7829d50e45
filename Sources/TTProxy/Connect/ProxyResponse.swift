import NIOCore

/// The answers tt-proxy writes to a CONNECT request.
enum ProxyResponse {
    /// The tunnel is open: nothing after the blank line but the target's bytes.
    static let connectionEstablished = "HTTP/1.1 200 Connection established\r\n\r\n"

    /// An error answer with a short plain-text body that says what failed and what to do.
    static func error(
        status: Int,
        reason: String,
        message: String,
        extraHeaders: [(String, String)] = [],
        keepAlive: Bool = false
    ) -> String {
        let body = message + "\n"
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        for (name, value) in extraHeaders {
            head += "\(name): \(value)\r\n"
        }
        head += "Content-Type: text/plain; charset=utf-8\r\n"
        head += "Content-Length: \(body.utf8.count)\r\n"
        if !keepAlive {
            head += "Connection: close\r\n"
        }
        return head + "\r\n" + body
    }
}

/// The reason phrases of the statuses tt-proxy sends.
enum ProxyStatus {
    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "Connection established"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 405: "Method Not Allowed"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 431: "Request Header Fields Too Large"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Error"
        }
    }
}
