import TTTransport

// The one host:port validator (HostPort.hostProblem, behind Endpoint's parser and Endpoint.validate) that -S, HOST:PORT, config files and library callers
// share: whatever it accepts must be a host libcurl and a resolver read exactly as shown.

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    switch Result(catching: { () throws(TransportError) in try Endpoint(parsing: text, defaultPort: 5000) }) {
    case .success(let endpoint):
        precondition((1...65535).contains(endpoint.port))
        // Nothing a URL or a resolver reads as another part: no path, query, fragment, userinfo or space.
        precondition(!endpoint.host.contains { "/?#@ \\[]".contains($0) || !$0.isASCII })
        // Accepted means valid by the check every transport runs, and the printed form parses back the same.
        precondition((try? endpoint.validate()) != nil)
        precondition((try? Endpoint(parsing: endpoint.description, defaultPort: nil)) == endpoint)
    case .failure(let error):
        precondition(error.category == .configuration)
    }
    // The check transports run on a library caller's endpoint agrees with the parser on bracket-free hosts.
    if !text.contains(":"), !text.contains("["), !text.contains("]") {
        let validated = (try? Endpoint(host: text, port: 1).validate()) != nil
        precondition(validated == ((try? Endpoint(parsing: text, defaultPort: 1)) != nil))
    }
    return 0
}
