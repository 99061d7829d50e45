import CCurl

/// Moving bytes over a libcurl `CONNECT_ONLY` connection with `curl_easy_recv` / `curl_easy_send`: what a TLS
/// session needs (libcurl holds the TLS state), with the non-blocking ``Transport`` semantics.
enum CurlIO {
    static func read(_ easy: CurlEasy, into buffer: UnsafeMutableRawBufferPointer, peer: String) throws -> ReadOutcome {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .wouldBlock }
        var received = 0
        let result = curl_easy_recv(easy.handle, base, buffer.count, &received)
        switch result {
        case CURLE_OK: return received > 0 ? .bytes(received) : .endOfStream
        case CURLE_AGAIN: return .wouldBlock
        default: throw error(result, "receiving from", peer)
        }
    }

    static func write(_ easy: CurlEasy, _ bytes: UnsafeRawBufferPointer, peer: String) throws -> Int {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        var sent = 0
        let result = curl_easy_send(easy.handle, base, bytes.count, &sent)
        switch result {
        case CURLE_OK: return sent
        case CURLE_AGAIN: return 0
        default: throw error(result, "sending to", peer)
        }
    }

    static func error(_ result: CURLcode, _ activity: String, _ peer: String) -> TransportError {
        let closed = result == CURLE_RECV_ERROR || result == CURLE_SEND_ERROR
        return TransportError(
            stage: .io,
            category: closed ? .connectionClosed : .internalError,
            message: "\(activity) \(peer) failed: \(CurlEasy.describe(result))",
            libcurlCode: Int(result.rawValue)
        )
    }
}
