import CCurl
import FoundationEssentials
import TTBasics

/// Fetches a PAC script over http(s):// with libcurl: directly (a PAC URL is on the intranet; asking a proxy
/// for the file that names the proxy would be circular), following redirects, at most
/// ``ProxyAutoConfig/sizeLimit`` bytes.
enum PacFetcher {
    /// Collects the body; the C write callback holds it unretained while `curl_easy_perform` runs.
    private final class Body {
        var bytes: [UInt8] = []
        var overflowed = false
    }

    private static let write: curl_write_callback = { data, size, count, user in
        guard let user else { return 0 }
        let body = Unmanaged<Body>.fromOpaque(user).takeUnretainedValue()
        let length = size * count
        guard body.bytes.count + length <= ProxyAutoConfig.sizeLimit else {
            body.overflowed = true
            return 0
        }
        if let data { body.bytes += UnsafeRawBufferPointer(start: data, count: length) }
        return length
    }

    /// A PAC URL that cannot be fetched is a network failure, as an unreachable proxy is (exit 3), not a usage
    /// error: the script names the proxies, so without it no proxy can be reached.
    private static func unreachable(_ message: String) -> TransportError {
        TransportError(stage: .proxyConnect, category: .proxyUnreachable, message: message)
    }

    /// A URL libcurl cannot read (a space, a bad port) is the user's mistake, a usage error; it is checked with
    /// libcurl's own parser before the transfer, as a redirect to such a URL later is the server's failure.
    private static func checkURL(_ url: String, shown: String) throws {
        guard let handle = curl_url() else {
            throw TransportError(stage: .proxyConnect, category: .internalError, message: "out of memory (curl_url)")
        }
        defer { curl_url_cleanup(handle) }
        let code = curl_url_set(handle, CURLUPART_URL, url, 0)
        guard code == CURLUE_OK else {
            throw TransportError.configuration(
                "the PAC URL \(shown) is not a URL libcurl can use (\(String(cString: curl_url_strerror(code))))"
            )
        }
    }

    static func fetch(_ url: String, deadline: Deadline, interrupter: ConnectionInterrupter? = nil) throws -> String {
        // What messages show: the URL may carry a password for the PAC server.
        let shown = ProxyAutoConfig.redacted(location: url)
        try checkURL(url, shown: shown)
        let easy = try CurlEasy()
        if let interrupter { try CurlInterruption.install(interrupter, on: easy) }
        let body = Body()
        try easy.set(CURLOPT_URL, url)
        try easy.set(CURLOPT_PROXY, "")
        try easy.set(CURLOPT_NOPROXY, "*")
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_FOLLOWLOCATION, 1)
        try easy.set(CURLOPT_MAXREDIRS, 5)
        // The whole transfer within the deadline (a server trickling a byte a second included), and a stalled one
        // given up sooner: under 16 bytes/s for 5 s is no PAC server.
        let budget = deadline.remaining ?? ProxyAutoConfig.defaultTimeout
        try easy.set(CURLOPT_TIMEOUT_MS, Int(max(1, budget.wholeMilliseconds)))
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(max(1, budget.wholeMilliseconds)))
        try easy.set(CURLOPT_LOW_SPEED_LIMIT, 16)
        try easy.set(CURLOPT_LOW_SPEED_TIME, 5)
        guard CCurl_easy_setopt_writefunction(easy.handle, write) == CURLE_OK else {
            throw TransportError.configuration("libcurl cannot fetch the PAC URL \(shown)")
        }
        let result = withExtendedLifetime(body) { () -> CURLcode in
            _ = try? easy.set(CURLOPT_WRITEDATA, pointer: Unmanaged.passUnretained(body).toOpaque())
            return curl_easy_perform(easy.handle)
        }
        let status = easy.long(CURLINFO_RESPONSE_CODE)
        if body.overflowed {
            throw TransportError.configuration(
                "the PAC URL \(shown) sent over \(ProxyAutoConfig.sizeLimit / 1024) KiB: that is not a PAC script"
            )
        }
        if result == CURLE_OPERATION_TIMEDOUT {
            throw TransportError(
                stage: .proxyConnect,
                category: .timedOut,
                message: "fetching the PAC URL \(shown) took longer than \(budget.readable) (--timeout): "
                    + "\(easy.errorText.isEmpty ? CurlEasy.describe(result) : easy.errorText)"
            )
        }
        guard result == CURLE_OK else {
            let detail = easy.errorText.isEmpty ? CurlEasy.describe(result) : easy.errorText
            throw unreachable("cannot fetch the PAC URL \(shown): \(detail)")
        }
        guard status == 200 else {
            throw unreachable("cannot fetch the PAC URL \(shown): the server answered HTTP \(status)")
        }
        guard let text = String(validating: body.bytes, as: UTF8.self) else {
            throw TransportError.configuration("the PAC URL \(shown) sent something that is not UTF-8 text")
        }
        return text
    }
}
