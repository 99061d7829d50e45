import Foundation
import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTestUtils
import TTProtocol
import Testing

@testable import TTServer

/// Passes reads on and records the user events that reach it: `EmbeddedChannel` keeps only reads and writes.
private final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    var events: [Any] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        events.append(event)
    }
}

@available(*, unavailable)
extension EventRecorder: Sendable {}

/// Every place `bytes` can be cut in two, the uncut whole included (a split at 0 sends an empty buffer first).
private func everySplit(_ bytes: [UInt8]) -> [(ByteBuffer, ByteBuffer)] {
    (0...bytes.count).map { (ByteBuffer(bytes: bytes[..<$0]), ByteBuffer(bytes: bytes[$0...])) }
}

/// Writes the two parts, once with the event loop running between them (as reads from a socket arrive) and once
/// with both in before it runs (a decoder that is done but not yet removed must pass the second part on).
private func feed(_ channel: EmbeddedChannel, _ first: ByteBuffer, _ second: ByteBuffer, loopBetween: Bool) throws {
    try channel.writeInbound(first)
    if loopBetween { channel.embeddedEventLoop.run() }
    try channel.writeInbound(second)
    channel.embeddedEventLoop.run()
}

/// Every byte read from the end of the pipeline, in order.
private func inboundBytes(_ channel: EmbeddedChannel) throws -> [UInt8] {
    var bytes: [UInt8] = []
    while let chunk = try channel.readInbound(as: ByteBuffer.self) { bytes += chunk.readableBytesView }
    return bytes
}

private func allowance() -> SessionAllowance {
    SessionAllowance(
        budget: BufferBudget(maxBytes: 1 << 20, maxPreLoginBytes: 1 << 20),
        preLoginMaxPacketSize: 64 << 10,
        frameTimeout: .seconds(30)
    )
}

/// A frame as the wire carries it: the 4-byte length, then `length` body bytes (ciphertext and tag).
private func wireFrame(length: Int, fill: UInt8) -> [UInt8] {
    withUnsafeBytes(of: UInt32(length).bigEndian, Array.init) + [UInt8](repeating: fill, count: length)
}

/// The PROXY header parser as a streaming decoder, so that NIO's verifier can feed it every way it knows.
private struct ProxyHeaderParser: ByteToMessageDecoder {
    typealias InboundOut = ProxyProtocolDecoder.Header

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let header = try ProxyProtocolDecoder.parse(&buffer)
        guard header != .incomplete else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(header))
        return .continue
    }
}

@Suite("The session's decoders, fed every split of their input (EmbeddedChannel, ByteToMessageDecoderVerifier)")
struct DecoderTests {
    static let proxyHeaders: [([UInt8], String?)] = [
        (Array("PROXY TCP4 192.0.2.1 198.51.100.2 40000 5000\r\n".utf8), "192.0.2.1:40000"),
        (Array("PROXY TCP6 2001:db8::1 2001:db8::2 40000 5000\r\n".utf8), "[2001:db8::1]:40000"),
        (Array("PROXY UNKNOWN\r\n".utf8), nil),
        // v2, PROXY command, TCP over IPv4: 192.0.2.1:40000 → 198.51.100.2:5000.
        (
            ProxyProtocolDecoder.v2Signature + [
                0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 1, 198, 51, 100, 2, 0x9C, 0x40, 0x13, 0x88,
            ],
            "192.0.2.1:40000"
        ),
        // v2 LOCAL (the balancer's own health check): no address.
        (ProxyProtocolDecoder.v2Signature + [0x20, 0x00, 0x00, 0x00], nil),
    ]

    @Test("The frame decoder yields the same frames however the stream is cut (NIO's verifier)")
    func frameDecoderVerifier() throws {
        let limits = ProtocolLimits.default
        let pairs = try [17, 40, 300].map { length in
            (
                ByteBuffer(bytes: wireFrame(length: length, fill: UInt8(length % 251))),
                [
                    SealedFrame(
                        header: try FrameHeader(length: UInt32(length), limits: limits),
                        body: [UInt8](repeating: UInt8(length % 251), count: length)
                    )
                ]
            )
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            FrameDecoder(limits: limits, allowance: allowance())
        }
    }

    @Test("The frame decoder refuses an oversized length before any body byte arrives")
    func frameDecoderRefusesOversizedLength() throws {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(FrameDecoder(limits: .default, allowance: allowance()))
        )
        let length = UInt32(ProtocolLimits.default.maxFrameSize + 1)
        #expect(throws: ProtocolError.self) {
            try channel.writeInbound(ByteBuffer(bytes: withUnsafeBytes(of: length.bigEndian, Array.init)))
        }
        _ = try? channel.finish()
    }

    @Test("The PROXY header parser consumes exactly the header however it is cut (NIO's verifier)")
    func proxyHeaderVerifier() throws {
        let pairs = Self.proxyHeaders.map { (ByteBuffer(bytes: $0.0), [ProxyProtocolDecoder.Header.complete($0.1)]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { ProxyHeaderParser() }
    }

    @Test(
        "The PROXY decoder, cut anywhere: one peer event, the bytes behind the header intact, then it leaves",
        arguments: proxyHeaders.indices
    )
    func proxyDecoderEverySplit(index: Int) throws {
        let (header, peer) = Self.proxyHeaders[index]
        let rest = Array("TTFW and what follows".utf8)
        for (first, second) in everySplit(header + rest) {
            for loopBetween in [true, false] {
                let recorder = EventRecorder()
                let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(ProxyProtocolDecoder()), recorder])
                try feed(channel, first, second, loopBetween: loopBetween)
                #expect(try inboundBytes(channel) == rest)
                #expect(recorder.events.compactMap { ($0 as? ProxiedPeerEvent)?.peer } == (peer.map { [$0] } ?? []))
                #expect(throws: (any Error).self) {
                    try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<ProxyProtocolDecoder>.self)
                }
                _ = try channel.finish()
            }
        }
    }

    @Test("The PROXY decoder refuses other bytes and a connection closed inside the header")
    func proxyDecoderRefusals() throws {
        let garbage = EmbeddedChannel(handler: ByteToMessageHandler(ProxyProtocolDecoder()))
        #expect(throws: ProxyProtocolError.self) { try garbage.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n")) }
        _ = try? garbage.finish()

        let cut = EmbeddedChannel(handler: ByteToMessageHandler(ProxyProtocolDecoder()))
        try cut.writeInbound(ByteBuffer(string: "PROXY TCP4 192.0.2.1"))
        #expect(throws: ProxyProtocolError.self) { _ = try cut.finish() }
    }

    @Test("The handshake decoder, cut anywhere: one ServerHello, the keys event, and the frame behind the hello")
    func handshakeEverySplit() throws {
        let identity = ServerIdentity.generate()
        let frame = wireFrame(length: 20, fill: 7)
        let hello = ClientHandshake()
        for (first, second) in everySplit(hello.hello + frame) {
            for loopBetween in [true, false] {
                let recorder = EventRecorder()
                let channel = EmbeddedChannel(handlers: [
                    ByteToMessageHandler(
                        HandshakeDecoder(identity: identity, limits: .default, allowance: allowance())
                    ),
                    recorder,
                ])
                try feed(channel, first, second, loopBetween: loopBetween)
                let serverHello = try #require(try channel.readOutbound(as: ByteBuffer.self))
                let finished = try hello.finish(serverHello: Array(serverHello.readableBytesView))
                #expect(finished.serverIdentity == identity.publicKey)
                #expect(recorder.events.filter { $0 is HandshakeCompletedEvent }.count == 1)
                let sealed = try #require(try channel.readInbound(as: SealedFrame.self))
                #expect(sealed.body == [UInt8](repeating: 7, count: 20))
                #expect(try channel.readInbound(as: SealedFrame.self) == nil)
                #expect(throws: (any Error).self) {
                    try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HandshakeDecoder>.self)
                }
                _ = try channel.finish()
            }
        }
    }

    @Test("The handshake decoder refuses an HTTP request at once and times out on silence, without waiting")
    func handshakeRefusalsAndDeadline() throws {
        let identity = ServerIdentity.generate()
        let http = EmbeddedChannel(
            handler: ByteToMessageHandler(
                HandshakeDecoder(identity: identity, limits: .default, allowance: allowance())
            )
        )
        #expect(throws: ProtocolError.self) { try http.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n")) }
        _ = try? http.finish()

        let silent = EmbeddedChannel(
            handler: ByteToMessageHandler(
                HandshakeDecoder(identity: identity, limits: .default, allowance: allowance())
            )
        )
        try silent.writeInbound(ByteBuffer(bytes: Array(ClientHandshake().hello.prefix(10))))
        silent.embeddedEventLoop.advanceTime(by: TimeAmount(ProtocolLimits.default.handshakeTimeout) - .milliseconds(1))
        try silent.throwIfErrorCaught()
        silent.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(throws: SessionFailure.self) { try silent.throwIfErrorCaught() }
        _ = try? silent.finish()
    }

    @Test("The TLS sniffer, cut anywhere: raw bytes pass on intact; a ClientHello brings in the TLS handler")
    func tlsSnifferEverySplit() throws {
        let tls = try selfSignedTLSContext()

        let raw = ClientHandshake().hello
        for (first, second) in everySplit(raw) {
            for loopBetween in [true, false] {
                let channel = EmbeddedChannel(handler: ByteToMessageHandler(TLSSniffer(tls: tls)))
                try feed(channel, first, second, loopBetween: loopBetween)
                #expect(try inboundBytes(channel) == raw)
                #expect(throws: (any Error).self) {
                    try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<TLSSniffer>.self)
                }
                #expect(throws: (any Error).self) {
                    try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
                }
                _ = try channel.finish()
            }
        }

        // The first bytes of a TLS record on an accepted (active) connection: the sniffer leaves and a TLS server
        // handler takes its place.
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(TLSSniffer(tls: tls)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try channel.writeInbound(ByteBuffer(bytes: [TLSSniffer.handshakeRecord]))
        channel.embeddedEventLoop.run()
        #expect(throws: Never.self) {
            try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        }
        #expect(throws: (any Error).self) {
            try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<TLSSniffer>.self)
        }
        _ = try? channel.finish()
    }
}
