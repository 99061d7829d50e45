import CCurl

/// libcurl's process-wide initialisation, run once before the first handle (Swift globals are lazily and
/// atomically initialised).
private let curlGlobalInit: CURLcode = curl_global_init(CCurl_GLOBAL_ALL)

/// One libcurl easy handle with typed option setters; owns the memory libcurl keeps pointers to.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer
    /// `CURLOPT_ERRORBUFFER` storage; libcurl writes into it for as long as the handle lives.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// Header lists are not copied by libcurl.
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    /// Where libcurl's TLS handshake leaves its facts (``observeTLS(caFile:)``); libcurl keeps the pointer.
    private(set) var tlsFacts: UnsafeMutablePointer<CCurl_TLSFacts>?
    /// Callback data libcurl holds unretained; released only after `curl_easy_cleanup`.
    private var keptAlive: [AnyObject] = []

    init() throws {
        guard curlGlobalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw TransportError(
                stage: .proxyConnect,
                category: .internalError,
                message: "libcurl could not be initialised"
            )
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
    }

    deinit {
        curl_easy_cleanup(handle)
        for list in lists { curl_slist_free_all(list) }
        tlsFacts?.deallocate()
        errorBuffer.deallocate()
    }

    /// libcurl's detailed message for the last failure (may be empty).
    var errorText: String {
        String(cString: errorBuffer)
    }

    func set(_ option: CURLoption, _ value: Int) throws {
        try check(CCurl_easy_setopt_long(handle, option, value), option)
    }

    func set(_ option: CURLoption, _ value: String) throws {
        try check(CCurl_easy_setopt_string(handle, option, value), option)
    }

    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer?) throws {
        try check(CCurl_easy_setopt_pointer(handle, option, pointer), option)
    }

    func set(_ option: CURLoption, lines: [String]) throws {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let appended = curl_slist_append(list, line) else {
                if let list { curl_slist_free_all(list) }
                throw TransportError(stage: .proxyConnect, category: .internalError, message: "out of memory")
            }
            list = appended
        }
        if let list { lists.append(list) }
        try check(CCurl_easy_setopt_slist(handle, option, list), option)
    }

    func setDebugFunction(_ callback: curl_debug_callback, data: UnsafeMutableRawPointer) throws {
        try check(CCurl_easy_setopt_debugfunction(handle, callback), CURLOPT_DEBUGFUNCTION)
        try set(CURLOPT_DEBUGDATA, pointer: data)
    }

    func setXferInfoFunction(_ callback: curl_xferinfo_callback, data: UnsafeMutableRawPointer) throws {
        try check(CCurl_easy_setopt_xferinfofunction(handle, callback), CURLOPT_XFERINFOFUNCTION)
        try set(CURLOPT_XFERINFODATA, pointer: data)
    }

    func setSockOptFunction(_ callback: curl_sockopt_callback, data: UnsafeMutableRawPointer) throws {
        try check(CCurl_easy_setopt_sockoptfunction(handle, callback), CURLOPT_SOCKOPTFUNCTION)
        try set(CURLOPT_SOCKOPTDATA, pointer: data)
    }

    /// Keeps `object` alive until the handle is cleaned up (callback data libcurl may still use then).
    func keepAlive(_ object: AnyObject) {
        keptAlive.append(object)
    }

    /// Sets (or with `nil`, removes) the callback that closes libcurl's sockets. libcurl copies it into each
    /// connection it makes, so a connection already made keeps the callback it was made with.
    func setCloseSocketFunction(_ callback: curl_closesocket_callback?, data: UnsafeMutableRawPointer?) throws {
        try check(CCurl_easy_setopt_closesocketfunction(handle, callback), CURLOPT_CLOSESOCKETFUNCTION)
        try set(CURLOPT_CLOSESOCKETDATA, pointer: data)
    }

    /// Records the facts of the TLS handshakes of this handle in ``tlsFacts``; `caFile` is verified with too.
    func observeTLS(caFile: String?) throws {
        let facts = UnsafeMutablePointer<CCurl_TLSFacts>.allocate(capacity: 1)
        facts.initialize(to: CCurl_TLSFacts())
        withUnsafeMutableBytes(of: &facts.pointee.caFile) { buffer in
            let bytes = Array((caFile ?? "").utf8.prefix(buffer.count - 1))
            buffer.copyBytes(from: bytes)
        }
        tlsFacts = facts
        try check(CCurl_easy_observe_tls(handle, facts), CURLOPT_SSL_CTX_FUNCTION)
    }

    /// How long after `since` (``CCurl_monotonic_ns``) libcurl began the TLS handshake, which it does once the TCP
    /// connection (or the tunnel) is up; `nil` when no handshake began.
    func tlsStarted(since: Int64) -> Duration? {
        guard let facts = tlsFacts?.pointee, facts.started == 1 else { return nil }
        return .nanoseconds(max(0, facts.startedAt - since))
    }

    func long(_ info: CURLINFO) -> Int {
        var value = 0
        return CCurl_easy_getinfo_long(handle, info, &value) == CURLE_OK ? value : 0
    }

    func string(_ info: CURLINFO) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard CCurl_easy_getinfo_string(handle, info, &value) == CURLE_OK, let value else { return nil }
        return String(cString: value)
    }

    var activeSocket: Int32 {
        var value: curl_socket_t = CCurl_SOCKET_BAD
        return CCurl_easy_getinfo_socket(handle, CURLINFO_ACTIVESOCKET, &value) == CURLE_OK ? value : -1
    }

    private func check(_ result: CURLcode, _ option: CURLoption) throws {
        guard result == CURLE_OK else {
            throw TransportError(
                stage: .proxyConnect,
                category: .internalError,
                message: "libcurl rejected option \(option.rawValue): \(CurlEasy.describe(result))",
                libcurlCode: Int(result.rawValue)
            )
        }
    }

    static func describe(_ result: CURLcode) -> String {
        String(cString: curl_easy_strerror(result))
    }
}

@available(*, unavailable)
extension CurlEasy: Sendable {}
