import TTClient

// The logon string given to tt-connect / tt-ping with -S: user:password@server:port.

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    switch Result(catching: { () throws(TransportError) in try LogonString(parsing: text) }) {
    case .success(let logon):
        precondition((1...65535).contains(logon.port) && !logon.server.isEmpty)
        _ = logon.description
    case .failure(let error):
        _ = error.description
    }
    return 0
}
