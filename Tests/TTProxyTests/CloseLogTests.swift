import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import TTProxy

@Suite("tt-proxy says why a connection closed on an error (EmbeddedChannel)")
struct CloseLogTests {
    private struct Reset: Error, CustomStringConvertible {
        var description: String { "Connection reset by peer (errno: 104)" }
    }

    @Test("A glued tunnel side that fails logs the reason and closes; its partner follows")
    func glueErrorIsLogged() throws {
        let lines = Mutex<[String]>([])
        let log = ConnectionCloseLog { line in lines.withLock { $0.append(line) } }
        let record = RequestRecord(client: "127.0.0.1:1", requestLine: "CONNECT 127.0.0.1:2 HTTP/1.1") { _ in }
        let (clientGlue, targetGlue) = GlueHandler.matchedPair(
            record: record,
            closeFlushTimeout: .seconds(10),
            closeLog: log
        )
        let client = EmbeddedChannel(handler: clientGlue)
        let target = EmbeddedChannel(handler: targetGlue)
        client.remoteAddress = try SocketAddress(ipAddress: "127.0.0.1", port: 40000)
        try client.connect(to: client.remoteAddress!).wait()
        try target.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5000)).wait()
        #expect(client.isActive)
        client.pipeline.fireErrorCaught(Reset())
        client.embeddedEventLoop.run()
        target.embeddedEventLoop.run()
        #expect(!client.isActive)
        #expect(
            lines.withLock { $0 } == [
                "tt-proxy: closing the client connection with 127.0.0.1:40000: Connection reset by peer"
            ]
        )
        _ = try? target.finish()
    }

    @Test("A burst of failures logs at most linesPerSecond lines")
    func burstIsRateLimited() {
        let lines = Mutex<[String]>([])
        let log = ConnectionCloseLog { line in lines.withLock { $0.append(line) } }
        let channel = EmbeddedChannel()
        for _ in 0..<(ConnectionCloseLog.linesPerSecond * 3) { log.record(Reset(), what: "target", channel: channel) }
        let logged = lines.withLock { $0 }
        // The burst normally fits one second; on a slow machine a second window may open and report the rest.
        #expect(logged.count <= ConnectionCloseLog.linesPerSecond * 2)
        #expect(logged.count >= ConnectionCloseLog.linesPerSecond)
        #expect(
            logged.first == "tt-proxy: closing the target connection with an unknown address: Connection reset by peer"
        )
    }
}
