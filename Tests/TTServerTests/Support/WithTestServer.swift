import Logging
import NIOCore
import NIOPosix
import TTProtocol
import TTServer
import TTTestSupport

/// Runs `body` against a fresh in-process server and always stops the server afterwards.
@discardableResult
func withTestServer<T>(
    host: String = "127.0.0.1",
    users: [String: String] = ["batch": "batch"],
    limits: ProtocolLimits = .default,
    logs: LogCapture? = nil,
    configure: @Sendable (inout ServerConfiguration) -> Void = { _ in },
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    threadPool: NIOThreadPool = .singleton,
    metrics: ServerMetrics = ServerMetrics(),
    _ body: (TestServer) async throws -> T
) async throws -> T {
    let server = try await TestServer.start(
        host: host,
        users: users,
        limits: limits,
        logger: logs?.logger ?? Logger(label: "tt-server-test", factory: { _ in SwiftLogNoOpLogHandler() }),
        eventLoopGroup: eventLoopGroup,
        threadPool: threadPool,
        metrics: metrics,
        configure: configure
    )
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// Runs `body` with a thread pool of its own (for tests whose slow jobs must not delay other suites' servers on
/// the shared pool), and always shuts it down afterwards.
func withThreadPool<T>(threads: Int = 2, _ body: (NIOThreadPool) async throws -> T) async throws -> T {
    let pool = NIOThreadPool(numberOfThreads: threads)
    pool.start()
    do {
        let result = try await body(pool)
        try? await pool.shutdownGracefully()
        return result
    } catch {
        try? await pool.shutdownGracefully()
        throw error
    }
}

/// Deterministic, poorly compressible test bytes.
func pseudoRandomBytes(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}
