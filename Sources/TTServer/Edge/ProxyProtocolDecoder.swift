import NIOCore
import TTBasics

/// Reads the PROXY protocol header (v1 text or v2 binary, as HAProxy sends it) that a load balancer puts in
/// front of the session, reports the real client address to the session, then leaves the pipeline.
///
/// Only installed when ``ServerConfiguration/acceptsProxyProtocol`` is on, and only for peers in
/// ``ServerConfiguration/proxyProtocolSources`` (others are refused at accept): a header from an untrusted client
/// would let it choose the address the logs and login queues see.
struct ProxyProtocolDecoder: OneShotDecoder {
    typealias InboundOut = ByteBuffer

    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let v1Prefix = Array("PROXY ".utf8)
    /// The longest v1 line the specification allows, CRLF included.
    static let v1MaxLength = 107
    /// Address blocks beyond this are refused; TCP over IPv6 needs 36 bytes, TLVs a little more.
    static let v2MaxAddressLength = 512

    private(set) var isDone = false
    var truncation: (any Error)? { ProxyProtocolError.closedInsideHeader }

    mutating func decodeOnce(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard case .complete(let peer) = try Self.parse(&buffer) else { return .needMoreData }
        isDone = true
        if let peer { context.fireUserInboundEventTriggered(ProxiedPeerEvent(peer: peer)) }
        return leave(context: context)
    }

    /// What ``parse(_:)`` found at the start of the bytes.
    enum Header: Equatable {
        /// More bytes are needed.
        case incomplete
        /// The header was consumed; the client's address, or `nil` when it names none (`UNKNOWN`, `LOCAL`).
        case complete(String?)
    }

    /// Parses the v1 or v2 header at the start of `buffer`, consuming it once complete and nothing while
    /// incomplete. No channel involved, so the fuzz target (Fuzz/) drives it directly.
    static func parse(_ buffer: inout ByteBuffer) throws -> Header {
        let head = buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, 12)) ?? []
        if v2Signature.starts(with: head) {
            return try parseV2(&buffer)
        } else if v1Prefix.starts(with: head) || head.starts(with: v1Prefix) {
            return try parseV1(&buffer)
        } else {
            throw ProxyProtocolError.notAHeader
        }
    }

    private static func parseV1(_ buffer: inout ByteBuffer) throws -> Header {
        let available = buffer.readableBytesView.prefix(v1MaxLength)
        guard let newline = available.firstIndex(of: 0x0A) else {
            if available.count >= v1MaxLength { throw ProxyProtocolError.v1LineTooLong }
            return .incomplete
        }
        let length = newline - buffer.readerIndex + 1
        let line = buffer.readBytes(length: length) ?? []
        guard line.count >= 2, line[line.count - 2] == 0x0D else {
            throw ProxyProtocolError.v1LineWithoutCRLF
        }
        let fields = String(decoding: line.dropLast(2), as: UTF8.self)
            .split(separator: " ", omittingEmptySubsequences: false)
        if fields.count >= 2, fields[1] == "UNKNOWN" { return .complete(nil) }
        guard fields.count == 6, fields[1] == "TCP4" || fields[1] == "TCP6",
            let port = Int(fields[4]), (0...65535).contains(port),
            (try? SocketAddress(ipAddress: String(fields[2]), port: port)) != nil
        else {
            throw ProxyProtocolError.malformedV1Line
        }
        return .complete(HostPort(host: String(fields[2]), port: port).description)
    }

    private static func parseV2(_ buffer: inout ByteBuffer) throws -> Header {
        guard buffer.readableBytes >= 16 else { return .incomplete }
        let start = buffer.readerIndex
        let versionCommand = buffer.getInteger(at: start + 12, as: UInt8.self)!
        let family = buffer.getInteger(at: start + 13, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: start + 14, as: UInt16.self)!)
        guard versionCommand >> 4 == 2, versionCommand & 0x0F <= 1 else {
            throw ProxyProtocolError.unsupportedV2
        }
        guard length <= v2MaxAddressLength else { throw ProxyProtocolError.v2AddressBlockTooLong }
        guard buffer.readableBytes >= 16 + length else { return .incomplete }
        buffer.moveReaderIndex(forwardBy: 16)
        guard var block = buffer.readSlice(length: length) else { return .incomplete }
        // LOCAL (health checks from the balancer itself) and non-TCP families keep the socket's address.
        guard versionCommand & 0x0F == 1 else { return .complete(nil) }
        let addressSize: Int
        switch family {
        case 0x11: addressSize = 4
        case 0x21: addressSize = 16
        default: return .complete(nil)
        }
        guard let source = block.readSlice(length: addressSize), block.readSlice(length: addressSize) != nil,
            let port = block.readInteger(as: UInt16.self),
            let address = try? SocketAddress(packedIPAddress: source, port: Int(port))
        else {
            throw ProxyProtocolError.v2AddressBlockTooShort
        }
        return .complete(FrameworkServer.format(address))
    }
}

/// Sent to the session once a PROXY protocol header named the real client.
struct ProxiedPeerEvent: Sendable {
    let peer: String
}

/// A PROXY protocol header that cannot be used; compare with the static members.
struct ProxyProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case closedInsideHeader, notAHeader, v1LineTooLong, v1LineWithoutCRLF, malformedV1Line, unsupportedV2,
            v2AddressBlockTooLong, v2AddressBlockTooShort
    }

    private let code: Code
    private init(_ code: Code) { self.code = code }

    static let closedInsideHeader = ProxyProtocolError(.closedInsideHeader)
    static let notAHeader = ProxyProtocolError(.notAHeader)
    static let v1LineTooLong = ProxyProtocolError(.v1LineTooLong)
    static let v1LineWithoutCRLF = ProxyProtocolError(.v1LineWithoutCRLF)
    static let malformedV1Line = ProxyProtocolError(.malformedV1Line)
    static let unsupportedV2 = ProxyProtocolError(.unsupportedV2)
    static let v2AddressBlockTooLong = ProxyProtocolError(.v2AddressBlockTooLong)
    static let v2AddressBlockTooShort = ProxyProtocolError(.v2AddressBlockTooShort)

    var description: String {
        switch code {
        case .closedInsideHeader: "connection closed inside the PROXY protocol header"
        case .notAHeader: "expected a PROXY protocol header, received other bytes"
        case .v1LineTooLong: "PROXY v1 line longer than 107 bytes"
        case .v1LineWithoutCRLF: "PROXY v1 line does not end in CRLF"
        case .malformedV1Line: "malformed PROXY v1 line"
        case .unsupportedV2: "unsupported PROXY v2 version or command"
        case .v2AddressBlockTooLong: "PROXY v2 address block too long"
        case .v2AddressBlockTooShort: "PROXY v2 address block too short"
        }
    }
}
