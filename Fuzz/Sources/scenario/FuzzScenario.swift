import TTProxy

// A scenario file given to tt-proxy --scenario (format: proxy-fixtures/README.md).

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try Scenario(parsing: text, name: "fuzz")
    } catch {
        precondition(error.line.map { $0 >= 1 } ?? true)
        _ = error.description
    }
    return 0
}
