import CCurl

/// A target URL put together by libcurl's URL API from its parts: scheme, host and port are each set on their
/// own, so no host can be read as a path, a fragment, userinfo or another port, as it could from an interpolated
/// string. The endpoint is validated (``Endpoint/validate()``) first; libcurl's own refusal is a usage error.
final class CurlURL {
    let handle: OpaquePointer

    init(scheme: String, target: Endpoint) throws(TransportError) {
        try target.validate()
        guard let handle = curl_url() else {
            throw TransportError(stage: .serverConnect, category: .internalError, message: "out of memory (curl_url)")
        }
        self.handle = handle
        var host = target.host
        var zone: String?
        if target.isIPv6, let percent = host.firstIndex(of: "%") {
            zone = String(host[host.index(after: percent)...])
            host = String(host[..<percent])
        }
        try set(CURLUPART_SCHEME, scheme, target)
        try set(CURLUPART_HOST, target.isIPv6 ? "[\(host)]" : host, target)
        if let zone { try set(CURLUPART_ZONEID, zone, target) }
        try set(CURLUPART_PORT, String(target.port), target)
    }

    deinit {
        curl_url_cleanup(handle)
    }

    private func set(_ part: CURLUPart, _ value: String, _ target: Endpoint) throws(TransportError) {
        let code = curl_url_set(handle, part, value, 0)
        guard code == CURLUE_OK else {
            throw TransportError.configuration(
                "'\(target)': libcurl refuses it as a host and port (\(String(cString: curl_url_strerror(code))))"
            )
        }
    }
}

@available(*, unavailable)
extension CurlURL: Sendable {}

extension CurlEasy {
    /// Points the handle at `target` with `scheme` through a ``CurlURL`` it keeps alive.
    func setTarget(_ target: Endpoint, scheme: String) throws {
        let url = try CurlURL(scheme: scheme, target: target)
        keepAlive(url)
        try set(CURLOPT_CURLU, pointer: UnsafeMutableRawPointer(url.handle))
    }
}
