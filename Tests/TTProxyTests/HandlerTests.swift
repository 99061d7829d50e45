import Glibc
import NIOCore
import NIOEmbedded
import NIOPosix
import NIOTestUtils
import Synchronization
import TTBasics
import Testing

@testable import TTProxy

/// Records every close that leaves the pipeline and its mode: `EmbeddedChannel` closes fully whatever the mode, so
/// a lingering close (output first) is only visible here. With `halfCloses`, it plays a socket's half-close: an
/// output close succeeds and the channel stays open for reading.
private final class CloseRecorder: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    private(set) var modes: [CloseMode] = []
    private let halfCloses: Bool

    init(halfCloses: Bool = false) {
        self.halfCloses = halfCloses
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        modes.append(mode)
        if halfCloses, mode == .output {
            promise?.succeed()
        } else {
            context.close(mode: mode, promise: promise)
        }
    }
}

/// Records the user events and reads that reach the end of the pipeline.
private final class InboundRecorder: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private(set) var events: [Any] = []
    private(set) var reads = 0

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        events.append(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reads += 1
    }
}

/// What a log sink was given, in order (the sinks are `@Sendable`).
private final class Recorded<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
}

/// An event no handler of ours knows: it must pass through.
private struct ForeignEvent: Equatable {}

/// Everything written to the channel so far, as text.
private func written(_ channel: EmbeddedChannel) throws -> String {
    var text = ""
    while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
        text += String(buffer: buffer)
    }
    return text
}

/// What a `ConnectHandler` under test writes, closes and logs.
private struct ProxyUnderTest {
    let channel: EmbeddedChannel
    let closes: CloseRecorder
    let access = Recorded<AccessLogEntry>()
    let events = Recorded<String>()

    /// A connected client channel with a `ConnectHandler`; the target dial is never reached by these tests.
    init(
        overLimit: Bool = false,
        users: HtpasswdFile? = nil,
        _ configure: (inout ProxyServerConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = ProxyServerConfiguration()
        configuration.accessLog = { [access] entry in access.append(entry) }
        configuration.eventLog = { [events] line in events.append(line) }
        configure(&configuration)
        let channel = EmbeddedChannel()
        let services = ProxyServices(
            connections: ConnectionRegistry(maxConnections: configuration.maxConnections),
            authGate: users.map {
                AuthGate(
                    users: $0,
                    limits: configuration.authLimits,
                    timerLoop: channel.embeddedEventLoop,
                    threadPool: .singleton
                )
            },
            ownListeners: OwnListeners(),
            closeLog: ConnectionCloseLog(sink: configuration.eventLog)
        )
        closes = CloseRecorder()
        try channel.pipeline.syncOperations.addHandlers([
            closes, ConnectHandler(configuration: configuration, services: services, overLimit: overLimit),
        ])
        channel.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        try channel.connect(to: channel.remoteAddress!).wait()
        self.channel = channel
    }

    func send(_ text: String, byteByByte: Bool = false) throws {
        if byteByByte {
            for byte in text.utf8 { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        } else {
            try channel.writeInbound(ByteBuffer(string: text))
        }
    }

    var outcomes: [String] { access.all.map { "\($0.status) \($0.outcome)" } }
}

/// The proxy's request-head parser as a streaming decoder, so that NIO's verifier can feed it every way it knows
/// (byte by byte, all at once, in random pieces). Each head comes out as its request line and header names.
private struct RequestHeadDecoder: ByteToMessageDecoder {
    typealias InboundOut = String

    private var parser = RequestHeadParser(limit: 16 * 1024)

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var bytes = buffer.readSlice(length: buffer.readableBytes)!
        parser.append(&bytes)
        while let result = parser.next() {
            switch result {
            case .head(let head?, _):
                let names = head.headers.map(\.name).joined(separator: ",")
                context.fireChannelRead(wrapInboundOut("\(head.method) \(head.target) \(head.version) [\(names)]"))
            case .head(nil, let lines):
                context.fireChannelRead(wrapInboundOut("invalid: \(lines.first ?? "")"))
            case .tooLarge:
                context.fireChannelRead(wrapInboundOut("too large"))
            }
        }
        return .needMoreData
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

@Suite("tt-proxy's channel handlers on an EmbeddedChannel: what they write, when they close, what they pass on")
struct HandlerTests {
    @Test("A request that is not CONNECT gets 405 with Allow: CONNECT and a lingering close, however it is cut")
    func methodNotAllowed() throws {
        for byteByByte in [false, true] {
            let proxy = try ProxyUnderTest()
            try proxy.send("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", byteByByte: byteByByte)
            let answer = try written(proxy.channel)
            #expect(answer.hasPrefix("HTTP/1.1 405 "))
            #expect(answer.contains("\r\nAllow: CONNECT\r\n"))
            #expect(answer.contains("tt-proxy only opens tunnels: use CONNECT host:port, not GET"))
            // Output first, so the answer is not lost to a reset when the client sent more than was read.
            #expect(proxy.closes.modes == [.output])
            #expect(!proxy.channel.isActive)
            #expect(proxy.outcomes == ["405 method-not-allowed"])
        }
    }

    @Test("A bad CONNECT target gets 400, a head over the limit 431, a port outside the allowed set 403: no dial")
    func refusalsBeforeTheDial() throws {
        let badTarget = try ProxyUnderTest()
        try badTarget.send("CONNECT example.com HTTP/1.1\r\n\r\n")
        #expect(try written(badTarget.channel).hasPrefix("HTTP/1.1 400 "))
        #expect(badTarget.outcomes == ["400 bad-target"])

        let large = try ProxyUnderTest { $0.maxHeadBytes = 64 }
        try large.send("CONNECT 127.0.0.1:5000 HTTP/1.1\r\nX-Filler: " + String(repeating: "x", count: 100))
        let tooLarge = try written(large.channel)
        #expect(tooLarge.hasPrefix("HTTP/1.1 431 "))
        #expect(tooLarge.contains("larger than 64 bytes"))
        #expect(large.closes.modes == [.output])
        #expect(large.outcomes == ["431 head-too-large"])

        let port = try ProxyUnderTest { $0.allowedPorts = try! PortSet(parsing: "5000") }
        try port.send("CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n")
        let forbidden = try written(port.channel)
        #expect(forbidden.hasPrefix("HTTP/1.1 403 "))
        #expect(forbidden.contains("does not tunnel to port 22"))
        #expect(port.outcomes == ["403 port-not-allowed"])
    }

    @Test("A head not complete within the head timeout gets 408 at the timeout, not before")
    func headTimeout() throws {
        let proxy = try ProxyUnderTest { $0.headTimeout = .seconds(2) }
        try proxy.send("CONNECT 127.0.0.1:5000 HTTP/1.1\r\n")
        proxy.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(try written(proxy.channel).isEmpty)
        #expect(proxy.channel.isActive)
        proxy.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        let answer = try written(proxy.channel)
        #expect(answer.hasPrefix("HTTP/1.1 408 "))
        #expect(answer.contains("did not arrive within 2 s"))
        #expect(proxy.closes.modes == [.output])
        #expect(proxy.outcomes == ["408 head-timeout"])
    }

    @Test("A client past the connection limit gets 503 as soon as it connects, before sending anything")
    func overLimit() throws {
        let proxy = try ProxyUnderTest(overLimit: true) { $0.maxConnections = 7 }
        let answer = try written(proxy.channel)
        #expect(answer.hasPrefix("HTTP/1.1 503 "))
        #expect(answer.contains("too many connections (limit 7)"))
        #expect(proxy.closes.modes == [.output])
        #expect(proxy.outcomes == ["503 connection-limit"])
    }

    @Test(
        "Without credentials: 407 with a Basic challenge, the connection stays, and the bytes after are the next head"
    )
    func challengeKeepsTheConnection() throws {
        let users = try HtpasswdFile(parsing: "alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n")
        let proxy = try ProxyUnderTest(users: users)
        try proxy.send("CONNECT 127.0.0.1:5000 HTTP/1.1\r\n\r\n")
        let challenge = try written(proxy.channel)
        #expect(challenge.hasPrefix("HTTP/1.1 407 "))
        #expect(challenge.contains("\r\nProxy-Authenticate: Basic realm=\"tt-proxy\"\r\n"))
        #expect(proxy.closes.modes.isEmpty)
        #expect(proxy.channel.isActive)
        // The retry arrives on the same connection; this one is no CONNECT, so it ends the connection.
        try proxy.send("GET / HTTP/1.1\r\n\r\n")
        #expect(try written(proxy.channel).hasPrefix("HTTP/1.1 405 "))
        #expect(proxy.outcomes == ["407 auth-required", "405 method-not-allowed"])
        #expect(proxy.closes.modes == [.output])
    }

    @Test("A client that ends its input inside a head is closed at once; an error is logged with its reason")
    func inputClosedAndErrors() throws {
        let cut = try ProxyUnderTest()
        try cut.send("CONNECT 127.0.0.1:50")
        cut.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(cut.closes.modes == [.all])
        #expect(try written(cut.channel).isEmpty)

        struct Reset: Error, CustomStringConvertible {
            var description: String { "Connection reset by peer (errno: 104)" }
        }
        let failing = try ProxyUnderTest()
        failing.channel.pipeline.fireErrorCaught(Reset())
        #expect(failing.closes.modes == [.all])
        #expect(
            failing.events.all == [
                "tt-proxy: closing the client connection with 127.0.0.1:40000: Connection reset by peer"
            ]
        )
    }

    @Test("IdleCloseHandler closes on the idle event and passes every other event on")
    func idleClose() throws {
        let recorder = InboundRecorder()
        let channel = EmbeddedChannel(handlers: [IdleCloseHandler(), recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5000)).wait()
        // NIO's IdleStateHandler measures idleness on the wall clock, not the EmbeddedEventLoop's: its event is
        // fired here directly.
        channel.pipeline.fireUserInboundEventTriggered(ForeignEvent())
        #expect(channel.isActive)
        channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.all)
        #expect(!channel.isActive)
        // Only the foreign event reached the end: the idle event is consumed.
        #expect(recorder.events.count == 1)
        #expect(recorder.events.first is ForeignEvent)
    }

    @Test("TargetBufferHandler keeps the target's bytes in order, wakes its waiter once, and notes the end")
    func targetBuffer() throws {
        let buffer = TargetBufferHandler()
        let recorder = InboundRecorder()
        let channel = EmbeddedChannel(handlers: [buffer, recorder])
        var wakeups = 0
        buffer.onBytes = { wakeups += 1 }
        #expect(!buffer.hasBytes)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 "))
        try channel.writeInbound(ByteBuffer(string: "200 OK\r\n"))
        #expect(wakeups == 1)
        #expect(buffer.hasBytes)
        #expect(recorder.reads == 0)
        #expect(buffer.take().map { String(buffer: $0) } == "HTTP/1.1 200 OK\r\n")
        #expect(!buffer.hasBytes)
        #expect(buffer.take() == nil)

        buffer.onBytes = { wakeups += 1 }
        channel.pipeline.fireUserInboundEventTriggered(ForeignEvent())
        #expect(!buffer.inputEnded)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(buffer.inputEnded)
        #expect(wakeups == 2)
        #expect(recorder.events.count == 1)
        _ = try channel.finish()
    }

    @Test("ScenarioHandler answers a head with its steps: respond, delay, then a lingering close at the delay's end")
    func scenarioRespondDelayClose() throws {
        let scenario = try Scenario(
            parsing: "respond \"HTTP/1.1 200 Connection established\\r\\n\\r\\n\"\ndelay 2s\nclose\n",
            name: "test"
        )
        let access = Recorded<AccessLogEntry>()
        var configuration = ProxyServerConfiguration()
        configuration.accessLog = { entry in access.append(entry) }
        let closes = CloseRecorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            closes,
            ScenarioHandler(scenario: scenario, configuration: configuration, closeLog: ConnectionCloseLog { _ in }),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        for byte in "CONNECT 127.0.0.1:5000 HTTP/1.1\r\n\r\n".utf8 {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        #expect(try written(channel) == "HTTP/1.1 200 Connection established\r\n\r\n")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(closes.modes.isEmpty)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(closes.modes == [.output])
        #expect(access.all.map { "\($0.status) \($0.outcome)" } == ["200 scenario"])
    }

    @Test("ScenarioHandler: respond-bytewise writes one byte per pause; never-answer writes nothing and keeps it open")
    func scenarioBytewiseAndSilence() throws {
        func start(_ text: String) throws -> (EmbeddedChannel, CloseRecorder) {
            let closes = CloseRecorder()
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandlers([
                closes,
                ScenarioHandler(
                    scenario: try Scenario(parsing: text, name: "test"),
                    configuration: ProxyServerConfiguration(),
                    closeLog: ConnectionCloseLog { _ in }
                ),
            ])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            try channel.writeInbound(ByteBuffer(string: "CONNECT 127.0.0.1:5000 HTTP/1.1\r\n\r\n"))
            return (channel, closes)
        }
        let (bytewise, _) = try start("respond-bytewise 100ms \"HTTP\"\n never-answer\n")
        #expect(try written(bytewise) == "H")
        bytewise.embeddedEventLoop.advanceTime(by: .milliseconds(99))
        #expect(try written(bytewise) == "")
        bytewise.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try written(bytewise) == "T")
        bytewise.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(try written(bytewise) == "TP")
        #expect(bytewise.isActive)

        let (silent, closes) = try start("never-answer\n")
        try silent.writeInbound(ByteBuffer(string: "more bytes the scenario drops"))
        silent.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(try written(silent) == "")
        #expect(silent.isActive)
        silent.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(closes.modes == [.all])
    }

    @Test("AcceptPauseHandler reports a failed accept once and keeps it; other errors travel on")
    func acceptPause() throws {
        let lines = Mutex<[String]>([])
        let channel = EmbeddedChannel(
            handler: AcceptPauseHandler(
                log: AcceptFailureLog { line in
                    lines.withLock { $0.append(line) }
                }
            )
        )
        channel.localAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 3128)
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        try channel.throwIfErrorCaught()
        // A second failure within the report interval is counted, not reported again.
        channel.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        try channel.throwIfErrorCaught()
        let reported = lines.withLock { $0 }
        #expect(reported.count == 1)
        #expect(reported.first?.hasPrefix("tt-proxy: cannot accept connections on 127.0.0.1:3128: ") == true)
        #expect(reported.first?.contains("EMFILE") == true)

        struct Other: Error {}
        channel.pipeline.fireErrorCaught(Other())
        #expect(throws: Other.self) { try channel.throwIfErrorCaught() }
    }

    @Test("The request-head parser yields the same heads however the stream is cut (NIO's verifier)")
    func requestHeadVerifier() throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [
                (
                    "CONNECT 127.0.0.1:5000 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nProxy-Authorization: Basic eDp5\r\n\r\n",
                    ["CONNECT 127.0.0.1:5000 HTTP/1.1 [Host,Proxy-Authorization]"]
                ),
                // Bare line ends, and blank lines before a request line (RFC 9112 §2.2).
                ("\r\n\nCONNECT [::1]:22 HTTP/1.0\nUser-Agent: x\n\n", ["CONNECT [::1]:22 HTTP/1.0 [User-Agent]"]),
                ("GET http://example.com/ HTTP/1.1\r\n\r\n", ["GET http://example.com/ HTTP/1.1 []"]),
                ("CONNECT\r\n\r\n", ["invalid: CONNECT"]),
            ]
        ) { RequestHeadDecoder() }
    }

    /// A glued tunnel on two EmbeddedChannels, each with a close recorder in front of its glue.
    private func tunnel() throws -> (
        client: EmbeddedChannel, target: EmbeddedChannel, clientCloses: CloseRecorder, targetCloses: CloseRecorder,
        record: RequestRecord
    ) {
        let record = RequestRecord(client: "127.0.0.1:40000", requestLine: "CONNECT 127.0.0.1:5000 HTTP/1.1") { _ in }
        let (clientGlue, targetGlue) = GlueHandler.matchedPair(
            record: record,
            closeFlushTimeout: .seconds(10),
            closeLog: ConnectionCloseLog { _ in }
        )
        let (clientCloses, targetCloses) = (CloseRecorder(halfCloses: true), CloseRecorder(halfCloses: true))
        let client = EmbeddedChannel(handlers: [clientCloses, clientGlue])
        let target = EmbeddedChannel(handlers: [targetCloses, targetGlue])
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        try target.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5000)).wait()
        return (client, target, clientCloses, targetCloses, record)
    }

    @Test("GlueHandler copies each side's reads to the other side and counts the bytes written, each way")
    func glueCopies() throws {
        let glued = try tunnel()
        try glued.client.writeInbound(ByteBuffer(string: "hello "))
        try glued.client.writeInbound(ByteBuffer(string: "target"))
        try glued.target.writeInbound(ByteBuffer(string: "hi"))
        #expect(try written(glued.target) == "hello target")
        #expect(try written(glued.client) == "hi")
        #expect(glued.record.bytesUp == 12)
        #expect(glued.record.bytesDown == 2)
        #expect(glued.clientCloses.modes.isEmpty && glued.targetCloses.modes.isEmpty)
    }

    @Test("GlueHandler: the client's end of input shuts the target's output only; the other way still flows")
    func glueHalfClose() throws {
        let glued = try tunnel()
        try glued.client.writeInbound(ByteBuffer(string: "last words"))
        glued.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try written(glued.target) == "last words")
        #expect(glued.targetCloses.modes == [.output])
        #expect(glued.clientCloses.modes.isEmpty)
        #expect(glued.client.isActive && glued.target.isActive)
        try glued.target.writeInbound(ByteBuffer(string: "the answer"))
        #expect(try written(glued.client) == "the answer")
    }

    @Test("GlueHandler: when one side closes, the other flushes what it holds and closes completely")
    func glueTeardown() throws {
        let glued = try tunnel()
        try glued.target.writeInbound(ByteBuffer(string: "answer"))
        try glued.target.close().wait()
        glued.target.embeddedEventLoop.run()
        glued.client.embeddedEventLoop.run()
        #expect(try written(glued.client) == "answer")
        #expect(glued.clientCloses.modes == [.all])
        #expect(!glued.client.isActive)
    }

}
