import Glibc
import NIOCore

@testable import TTServer

// The PROXY protocol v1/v2 header a load balancer sends before the session (ProxyProtocolDecoder.parse).
// Checked beyond "no crash": a prefix of the input is either incomplete (nothing consumed) or parses exactly as
// the whole input does, and only the header is ever consumed.
// And the trust list that decides who may send such a header at all (--proxy-protocol-from,
// ServerConfiguration.trustsProxyProtocol): the input read as a CIDR list must agree, for every peer tried (the
// header's own address and fixed ones of both families), with a byte-wise reference built on inet_pton here.

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
    var peers = fixedPeers
    if case .success(.complete(let peer?)) = result { peers.append(host(of: peer)) }
    checkTrust(String(decoding: bytes, as: UTF8.self), peers: peers)
    return 0
}

private let fixedPeers = [
    "127.0.0.1", "127.255.0.9", "::1", "10.1.2.3", "192.0.2.1", "2001:db8::1", "::ffff:127.0.0.1", "fe80::1",
    "0.0.0.0", "::", "not an address",
]

/// `HOST` of `HOST:PORT` or `[HOST]:PORT`.
private func host(of peer: String) -> String {
    if peer.hasPrefix("["), let close = peer.firstIndex(of: "]") {
        return String(peer[peer.index(after: peer.startIndex)..<close])
    }
    return peer.lastIndex(of: ":").map { String(peer[..<$0]) } ?? peer
}

private func checkTrust(_ text: String, peers: [String]) {
    let reference = referenceBlocks(text)
    let parsed = try? ServerConfiguration.proxyProtocolSources(parsing: text)
    precondition((parsed == nil) == (reference == nil), "the list parser and the reference disagree on \(text)")
    for peer in peers {
        let address = referenceAddress(peer)
        if let parsed, let reference {
            let expected = address.map { address in reference.contains { $0.contains(address) } } ?? false
            precondition(
                ServerConfiguration.trustsProxyProtocol(from: peer, sources: parsed) == expected,
                "trust of \(peer) under \(text)"
            )
        }
        let loopback = address.map {
            $0.family == 4 ? $0.bytes[0] == 127 : $0.bytes == Array(repeating: 0, count: 15) + [1]
        }
        precondition(
            ServerConfiguration.trustsProxyProtocol(from: peer, sources: ServerConfiguration.loopbackNetworks)
                == (loopback ?? false),
            "the default list and loopback disagree on \(peer)"
        )
    }
}

/// An address as the reference sees it: 4 bytes for IPv4 and IPv4-mapped IPv6, else 16.
private struct ReferenceAddress {
    var family: Int
    var bytes: [UInt8]
}

private struct ReferenceBlock {
    var address: ReferenceAddress
    var bits: Int

    /// Same family, and the first `bits` bits equal.
    func contains(_ other: ReferenceAddress) -> Bool {
        guard other.family == address.family else { return false }
        for bit in 0..<bits where (address.bytes[bit / 8] ^ other.bytes[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 {
            return false
        }
        return true
    }
}

private func referenceAddress(_ text: some StringProtocol) -> ReferenceAddress? {
    let string = String(text)
    guard !string.utf8.contains(0) else { return nil }
    var v4 = in_addr()
    if inet_pton(AF_INET, string, &v4) == 1 {
        return ReferenceAddress(family: 4, bytes: withUnsafeBytes(of: &v4) { Array($0) })
    }
    var v6 = in6_addr()
    guard inet_pton(AF_INET6, string, &v6) == 1 else { return nil }
    let bytes = withUnsafeBytes(of: &v6) { Array($0) }
    if bytes[..<12].elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]) {
        return ReferenceAddress(family: 4, bytes: Array(bytes[12...]))
    }
    return ReferenceAddress(family: 6, bytes: bytes)
}

/// `CIDR[,CIDR…]` with items trimmed of white space; `nil` when an item is not `ADDRESS/BITS`.
private func referenceBlocks(_ text: String) -> [ReferenceBlock]? {
    var blocks: [ReferenceBlock] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
        let trimmed = item.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        let parts = String(trimmed).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = referenceAddress(parts[0]), !parts[1].isEmpty,
            parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let bits = Int(parts[1]),
            bits <= address.bytes.count * 8
        else { return nil }
        blocks.append(ReferenceBlock(address: address, bits: bits))
    }
    return blocks
}
