import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import TTPasswordChecks
import TTProtocol
import Testing

@testable import TTServer

/// Everything written to the channel so far, as bytes.
private func writtenBytes(_ channel: EmbeddedChannel) throws -> [UInt8] {
    var bytes: [UInt8] = []
    while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
    return bytes
}

/// Everything written to the channel so far, as text.
private func writtenText(_ channel: EmbeddedChannel) throws -> String {
    String(decoding: try writtenBytes(channel), as: UTF8.self)
}

/// A session's whole pipeline (idle timer, handshake, frames, session) on an EmbeddedChannel, and a client's
/// codec once the handshake is done.
private struct SessionUnderTest {
    let channel = EmbeddedChannel()
    let logs = LogCapture()
    let identity = ServerIdentity.generate()

    init() throws {
        let configuration = ServerConfiguration(identity: identity)
        let context = SessionContext(
            configuration: configuration,
            threadPool: .singleton,
            offloadBudget: OffloadBudget(maxJobs: 4, maxBytes: 1 << 24),
            bufferBudget: BufferBudget(maxBytes: 1 << 24, maxPreLoginBytes: 1 << 22),
            loginQueue: PasswordCheckQueue(
                threadPool: .singleton,
                limits: .init(maxRunning: 1, maxQueuedPerSource: 4, maxQueued: 16, maxQueuedUnproven: 16)
            ),
            logLimiter: LogLimiter(perSecond: 1000),
            logger: logs.logger,
            users: UserStore(UserDirectory()),
            metrics: ServerMetrics()
        )
        try SessionPipeline.install(on: channel, context: context, peer: "127.0.0.1:40000")
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
    }

    /// Runs the handshake as a client would; returns the client's codec.
    func handshake() throws -> PacketCodec {
        let hello = ClientHandshake()
        try channel.writeInbound(ByteBuffer(bytes: hello.hello))
        let (keys, serverKey) = try hello.finish(serverHello: try writtenBytes(channel))
        #expect(serverKey == identity.publicKey)
        return try PacketCodec(keys: keys)
    }

    /// The packets in `bytes`, whole frames only.
    func packets(_ bytes: [UInt8], codec: PacketCodec) throws -> [Packet] {
        var rest = bytes[...]
        var packets: [Packet] = []
        while rest.count >= FrameHeader.size {
            let header = try codec.decodeHeader(Array(rest.prefix(FrameHeader.size)))
            let body = Array(rest.dropFirst(FrameHeader.size).prefix(Int(header.length)))
            packets.append(try codec.decode(header: header, body: body))
            rest = rest.dropFirst(FrameHeader.size + Int(header.length))
        }
        #expect(rest.isEmpty)
        return packets
    }
}

/// A request line and headers as a client sends them to the admin listener.
private func adminRequest(_ method: String, _ path: String) -> ByteBuffer {
    ByteBuffer(string: "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
}

@Suite("tt-server's channel handlers on an EmbeddedChannel: what they write, when they close, what they log")
struct ServerHandlerTests {
    @Test("A session answers pipelined Ping and Echo in order before login, on the event loop")
    func sessionAnswersInOrder() throws {
        let session = try SessionUnderTest()
        let codec = try session.handshake()
        var frames = try codec.encode(.request(RequestPacket(function: .ping, payload: [])))
        frames += try codec.encode(.request(RequestPacket(function: .echo, payload: Array("hello".utf8))))
        // Cut in the middle of the second frame: the first is answered at once, the second once it is whole.
        try session.channel.writeInbound(ByteBuffer(bytes: frames.prefix(frames.count - 3)))
        // The handshake decoder leaves the pipeline on the next tick of the loop, as on a real channel.
        session.channel.embeddedEventLoop.run()
        let first = try session.packets(try writtenBytes(session.channel), codec: codec)
        try session.channel.writeInbound(ByteBuffer(bytes: frames.suffix(3)))
        session.channel.embeddedEventLoop.run()
        let second = try session.packets(try writtenBytes(session.channel), codec: codec)
        guard case .response(let pong) = first.first, case .response(let echo) = second.first else {
            Issue.record("expected one response each, got \(first) and \(second)")
            return
        }
        #expect(first.count == 1 && second.count == 1)
        #expect(pong.rc == .requestOK)
        #expect(echo.rc == .requestOK)
        #expect(echo.payload == Array("hello".utf8))
        #expect(session.channel.isActive)
        _ = try? session.channel.finish()
    }

    @Test("A frame that fails authentication closes the session and logs why; nothing is answered")
    func tamperedFrameCloses() throws {
        let session = try SessionUnderTest()
        let codec = try session.handshake()
        var frame = try codec.encode(.request(RequestPacket(function: .ping, payload: [])))
        frame[frame.count - 1] ^= 0x01
        try session.channel.writeInbound(ByteBuffer(bytes: frame))
        session.channel.embeddedEventLoop.run()
        #expect(try writtenBytes(session.channel).isEmpty)
        #expect(!session.channel.isActive)
        #expect(session.logs.closeReasons.count == 1)
    }

    @Test("The idle event closes a session that waits for nothing, with the reason; other events pass on")
    func idleSessionCloses() throws {
        let session = try SessionUnderTest()
        _ = try session.handshake()
        session.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.read)
        #expect(session.channel.isActive)
        session.channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        session.channel.embeddedEventLoop.run()
        #expect(!session.channel.isActive)
        #expect(session.logs.closeReasons == ["idle for 300.0 s"])
    }

    @Test("NIO's quiesce event closes an idle session at once, saying the server is shutting down")
    func quiesceCloses() throws {
        let session = try SessionUnderTest()
        _ = try session.handshake()
        session.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        session.channel.embeddedEventLoop.run()
        #expect(!session.channel.isActive)
        #expect(session.logs.closeReasons == ["server shutting down"])
    }

    @Test("The admin handler answers /healthz, /metrics, 404 and 405, each on a connection of its own, then closes")
    func adminAnswers() throws {
        let serving = NIOLockedValueBox(true)
        func ask(_ request: ByteBuffer) throws -> (String, Bool) {
            let channel = EmbeddedChannel()
            try AdminServer.installHandlers(
                on: channel.pipeline.syncOperations,
                limits: AdminServer.Limits(),
                health: { serving.withLockedValue { $0 } },
                metrics: { "tt_sessions 3\n" }
            )
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            try channel.writeInbound(request)
            channel.embeddedEventLoop.run()
            return (try writtenText(channel), channel.isActive)
        }
        let (healthy, open) = try ask(adminRequest("GET", "/healthz"))
        #expect(healthy.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(healthy.hasSuffix("\r\n\r\nserving\n"))
        #expect(healthy.contains("Connection: close"))
        #expect(!open)
        serving.withLockedValue { $0 = false }
        #expect(try ask(adminRequest("GET", "/healthz?full")).0.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        let metrics = try ask(adminRequest("GET", "/metrics")).0
        #expect(metrics.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(metrics.hasSuffix("\r\n\r\ntt_sessions 3\n"))
        let head = try ask(adminRequest("HEAD", "/metrics")).0
        #expect(head.contains("Content-Length: 14"))
        #expect(head.hasSuffix("\r\n\r\n"))
        #expect(try ask(adminRequest("GET", "/")).0.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(try ask(adminRequest("POST", "/healthz")).0.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
    }

    @Test("The admin handler cuts a head past the size limit with 431, and a slow head at the timeout, not before")
    func adminLimits() throws {
        let limits = AdminServer.Limits(headTimeout: .seconds(3), maxHeadBytes: 64)
        func connect() throws -> EmbeddedChannel {
            let channel = EmbeddedChannel()
            try AdminServer.installHandlers(
                on: channel.pipeline.syncOperations,
                limits: limits,
                health: { true },
                metrics: { "" }
            )
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            return channel
        }
        let large = try connect()
        try large.writeInbound(ByteBuffer(string: "GET /healthz HTTP/1.1\r\nX: " + String(repeating: "x", count: 30)))
        #expect(try writtenText(large).isEmpty)
        // Past the limit: the answer and the close happen inside this read.
        large.pipeline.fireChannelRead(ByteBuffer(string: String(repeating: "x", count: 30)))
        large.embeddedEventLoop.run()
        // NIO's HTTP decoder reports the head cut short by the close; the admin handler takes that error itself
        // (it answers malformed requests), so none reaches the pipeline's end.
        #expect(throws: Never.self) { try large.throwIfErrorCaught() }
        #expect(try writtenText(large).hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(!large.isActive)

        let slow = try connect()
        try slow.writeInbound(ByteBuffer(string: "GET /heal"))
        slow.embeddedEventLoop.advanceTime(by: .milliseconds(2999))
        #expect(slow.isActive)
        slow.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!slow.isActive)
        // NIO's HTTP decoder reports the head cut short by the close, and the admin handler answers it as a
        // malformed request, 400 (which a real socket, closed by then, drops); no error reaches the pipeline's
        // end, and nothing was served.
        #expect(throws: Never.self) { try slow.throwIfErrorCaught() }
        let slowText = try writtenText(slow)
        #expect(slowText.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(slowText)")
        #expect(!slowText.contains("serving"))
    }

    @Test("AcceptBackoff logs a failed accept with a hint, swallows it, and passes other errors on")
    func acceptBackoff() throws {
        let logs = LogCapture()
        let channel = EmbeddedChannel(
            handler: AcceptBackoff(logger: logs.logger, limiter: LogLimiter(perSecond: 1000))
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5000)).wait()
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        try channel.throwIfErrorCaught()
        let entry = try #require(logs.all.first { $0.message == "accept failed, pausing the listener" })
        #expect(entry.level == .warning)
        #expect(entry.metadata["pause"] == "250 ms")
        #expect(entry.metadata["hint"]?.contains("ulimit -n") == true)
        // The pause ends; the listener stays open.
        channel.embeddedEventLoop.advanceTime(by: AcceptBackoff.delay)
        #expect(channel.isActive)

        struct Other: Error {}
        channel.pipeline.fireErrorCaught(Other())
        #expect(throws: Other.self) { try channel.throwIfErrorCaught() }
        _ = try? channel.finish()
    }
}
