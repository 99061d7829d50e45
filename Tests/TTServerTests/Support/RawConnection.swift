import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A plain TCP connection for tests: send any bytes, receive exactly some, or see the server close it.
///
/// Every wait has a deadline; when it passes the connection is closed and the call throws
/// ``RawConnectionError/timedOut``. Owned by one task (not `Sendable`).
final class RawConnection {
    let channel: any Channel
    private var iterator: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    private var buffered: [UInt8] = []

    private init(channel: any Channel, stream: AsyncThrowingStream<ByteBuffer, any Error>) {
        self.channel = channel
        self.iterator = stream.makeAsyncIterator()
    }

    /// - Parameter localAddress: the address to connect from (any of 127/8 is loopback: a test can be many peers).
    static func connect(host: String, port: Int, from localAddress: String? = nil) async throws -> RawConnection {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let localAddress { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0)) }
        let channel =
            try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StreamingHandler(continuation))
                }
            }
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port)
            .get()
        return RawConnection(channel: channel, stream: stream)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    /// Receives exactly `count` bytes.
    /// - Throws: ``RawConnectionError/closed`` if the server closes first, ``RawConnectionError/timedOut``.
    func receive(exactly count: Int, timeout: Duration = .seconds(20)) async throws -> [UInt8] {
        try await withDeadline(timeout) {
            while buffered.count < count {
                guard let chunk = try await iterator.next() else {
                    throw RawConnectionError.closed(received: buffered.count)
                }
                buffered += chunk.readableBytesView
            }
            defer { buffered.removeFirst(count) }
            return Array(buffered.prefix(count))
        }
    }

    /// Waits until the server closes the connection, discarding what it sends meanwhile.
    /// - Throws: ``RawConnectionError/timedOut`` when it is still open after `timeout`.
    func expectClosed(timeout: Duration = .seconds(10)) async throws {
        try await withDeadline(timeout) {
            do {
                while try await iterator.next() != nil {}
            } catch let error as RawConnectionError {
                throw error
            } catch {
                // A reset is a close too.
            }
        }
    }

    func close() async {
        try? await channel.close()
    }

    private func withDeadline<T>(_ timeout: Duration, _ body: () async throws -> T) async throws -> T {
        let expired = NIOLockedValueBox(false)
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(
            in: .nanoseconds(
                Int64(timeout.components.seconds) * 1_000_000_000
                    + timeout.components.attoseconds / 1_000_000_000
            )
        ) {
            expired.withLockedValue { $0 = true }
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            let value = try await body()
            if expired.withLockedValue({ $0 }) { throw RawConnectionError.timedOut }
            return value
        } catch {
            if expired.withLockedValue({ $0 }) { throw RawConnectionError.timedOut }
            throw error
        }
    }
}

enum RawConnectionError: Error, Equatable {
    case closed(received: Int)
    case timedOut
}

private final class StreamingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation

    init(_ continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension StreamingHandler: Sendable {}
