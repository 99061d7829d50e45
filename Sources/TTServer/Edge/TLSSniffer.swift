import NIOCore
import NIOSSL

/// Tells a TLS connection from a raw framework connection by its first byte, then leaves the pipeline.
///
/// `0x16` starts a TLS record (a ClientHello): a TLS server handler with the current certificate
/// (``ServerTLSContext``) goes in right after the sniffer, so the framework handshake runs inside TLS. Anything
/// else (`T` starts the raw `TTFW` hello) passes on untouched and the handshake decoder judges it. Both kinds share
/// one port, so a client behind an inspecting proxy and one on the LAN need no different server configuration.
/// The same shape as NIO's own `NIOTypedApplicationProtocolNegotiationHandler`: decide, add, remove self.
struct TLSSniffer: OneShotDecoder {
    typealias InboundOut = ByteBuffer

    /// The first byte of a TLS handshake record.
    static let handshakeRecord: UInt8 = 0x16

    let tls: ServerTLSContext
    private(set) var isDone = false
    /// A connection that ends before its first byte has nothing to judge.
    var truncation: (any Error)? { nil }

    init(tls: ServerTLSContext) {
        self.tls = tls
    }

    mutating func decodeOnce(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
        isDone = true
        if first == Self.handshakeRecord {
            try context.pipeline.syncOperations.addHandler(
                NIOSSLServerHandler(context: tls.current),
                position: .after(context.handler)
            )
        }
        return leave(context: context)
    }
}
