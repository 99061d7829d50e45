import NIOCore

@testable import TTServer

// The PROXY protocol v1/v2 header a load balancer sends before the session (ProxyProtocolDecoder.parse).
// Checked beyond "no crash": a prefix of the input is either incomplete (nothing consumed) or parses exactly as
// the whole input does, and only the header is ever consumed.

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Buffers in a pipeline rarely start at index 0: put the input behind a few consumed bytes.
    let skipped = size % 7
    func buffer(_ count: Int) -> ByteBuffer {
        var buffer = ByteBuffer(repeating: 0xEE, count: skipped)
        buffer.moveReaderIndex(forwardBy: skipped)
        buffer.writeBytes(bytes.prefix(count))
        return buffer
    }
    var whole = buffer(size)
    let result = Result { try ProxyProtocolDecoder.parse(&whole) }
    let consumed = whole.readerIndex - skipped
    switch result {
    case .success(.incomplete): precondition(consumed == 0)
    case .success(.complete): precondition(consumed > 0 && consumed <= size)
    case .failure: break
    }
    for count in Set([size / 2, max(0, size - 1), min(size, 16), min(size, 108)]) where count < size {
        var prefix = buffer(count)
        switch Result(catching: { try ProxyProtocolDecoder.parse(&prefix) }) {
        case .success(.incomplete):
            precondition(prefix.readerIndex == skipped, "an incomplete header consumed bytes")
        case .success(let header):
            precondition((try? result.get()) == header, "a prefix parsed differently from the whole input")
            precondition(prefix.readerIndex - skipped == consumed)
        case .failure:
            precondition((try? result.get()) == nil, "a prefix failed where the whole input parsed")
        }
    }
    return 0
}
