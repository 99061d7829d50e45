public import Foundation
import NIOCore
import Synchronization
public import TTProxy

/// A tt-proxy running in-process on an ephemeral loopback port, recording its access log: the proxy for tests.
public final class TestProxy: Sendable {
    /// The running server.
    public let server: ProxyServer
    private let log: AccessLogRecorder

    /// The port of the first listener.
    public var port: Int { server.listeningAddresses.first?.port ?? 0 }

    /// The access log entries so far.
    public var accessLog: [AccessLogEntry] { log.entries }

    private init(server: ProxyServer, log: AccessLogRecorder) {
        self.server = server
        self.log = log
    }

    /// Starts a proxy on `host` (127.0.0.1 or ::1), port 0.
    /// - Parameters:
    ///   - scenario: a file name in `proxy-fixtures/` (e.g. `407-basic.scenario`), or `nil` for the normal proxy.
    ///   - configure: adjusts the configuration (auth, ports, timeouts) before start.
    public static func start(
        host: String = "127.0.0.1",
        scenario: String? = nil,
        configure: (inout ProxyServerConfiguration) throws -> Void = { _ in }
    ) async throws -> TestProxy {
        var configuration = ProxyServerConfiguration()
        configuration.listeners = [.init(host: host, port: 0)]
        configuration.connectTimeout = .seconds(5)
        if let scenario {
            configuration.scenario = try Scenario(contentsOf: fixture(scenario).path)
        }
        let log = AccessLogRecorder()
        configuration.accessLog = { log.append($0) }
        try configure(&configuration)
        return TestProxy(server: try await ProxyServer.start(configuration: configuration), log: log)
    }

    /// A file in `proxy-fixtures/`.
    public static func fixture(_ name: String) -> URL {
        BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures").appendingPathComponent(name)
    }

    /// Waits (bounded) until the access log has `count` entries; returns them.
    public func waitForAccessLog(count: Int, timeout: Duration = .seconds(10)) async throws -> [AccessLogEntry] {
        let deadline = ContinuousClock.now + timeout
        while accessLog.count < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        return accessLog
    }

    /// Stops the proxy and closes its connections.
    public func stop() async {
        await server.shutdown(grace: .zero)
    }
}

private final class AccessLogRecorder: Sendable {
    private let storage = Mutex<[AccessLogEntry]>([])

    func append(_ entry: AccessLogEntry) { storage.withLock { $0.append(entry) } }
    var entries: [AccessLogEntry] { storage.withLock { $0 } }
}
