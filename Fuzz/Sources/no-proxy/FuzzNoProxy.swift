import TTTransport

// NO_PROXY and HTTPS_PROXY from the environment. Input lines: the NO_PROXY value, the HTTPS_PROXY value, then
// targets as host:port. Loopback targets never go through an environment proxy, whatever NO_PROXY says.

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let noProxy = lines.first ?? ""
    let matcher = NoProxyMatcher(noProxy)
    for loopback in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
        precondition(!matcher.usesProxy(host: loopback, port: 443), "\(loopback) would use the proxy")
    }
    let environment = ["NO_PROXY": noProxy, "HTTPS_PROXY": lines.count > 1 ? lines[1] : "http://proxy.example:3128"]
    for line in lines.dropFirst(2) {
        guard let target = try? Endpoint(parsing: line, defaultPort: 443) else { continue }
        let viaProxy = matcher.usesProxy(host: target.host, port: target.port)
        let decision = try? ProxyConfiguration.resolve(target: target, flags: ProxyFlags(), environment: environment)
        if let decision, !viaProxy {
            precondition(decision.proxy == nil, "NO_PROXY matched \(target) but a proxy was chosen")
        }
    }
    return 0
}
