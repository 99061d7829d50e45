public import Foundation
public import Logging
public import NIOCore
public import NIOPosix
public import TTProtocol
public import TTServer

/// A framework server running in the test process on an ephemeral loopback port, with its identity key and
/// users file in a temporary directory that ``stop()`` removes.
///
/// ```swift
/// try await withStarted(TestServer.start(users: ["batch": "batch"])) { server in
///     connect to server.host, server.port; pin server.fingerprint
/// }   // stopped and awaited here, even when the body throws
/// ```
public final class TestServer: Sendable {
    /// The running server.
    public let server: FrameworkServer
    /// `127.0.0.1` or `::1`, as asked.
    public let host: String
    /// The port the kernel gave the listener.
    public let port: Int
    /// The server's identity (its public key is what clients should see).
    public let identity: ServerIdentity
    /// The temporary directory holding `identity.pem` and `users`.
    public let directory: URL

    /// The identity fingerprint clients can pin.
    public var fingerprint: IdentityFingerprint { identity.fingerprint }
    /// The identity key file.
    public var identityPath: String { directory.appendingPathComponent("identity.pem").path }
    /// The users file.
    public var usersPath: String { directory.appendingPathComponent("users").path }

    private init(server: FrameworkServer, host: String, port: Int, identity: ServerIdentity, directory: URL) {
        self.server = server
        self.host = host
        self.port = port
        self.identity = identity
        self.directory = directory
    }

    /// Starts a server on `host` port 0.
    /// - Parameters:
    ///   - host: `127.0.0.1` (default) or `::1`.
    ///   - users: Accounts to write to the users file (hashed with few iterations, so logins are fast).
    ///   - limits: Protocol limits; short timeouts make timeout tests quick.
    ///   - logger: Where the server logs (a capturing handler lets tests assert reasons).
    ///   - configure: Last changes to the configuration (login delay, offload threshold, grace period …).
    ///   - eventLoopGroup: The server's event loops (one loop puts every session on the same thread).
    ///   - threadPool: Where the server offloads work (a test can hold its threads busy).
    ///   - metrics: Where the server counts (a test's own Prometheus registry, to read them back).
    public static func start(
        host: String = "127.0.0.1",
        users: [String: String] = ["batch": "batch"],
        limits: ProtocolLimits = .default,
        logger: Logger = Logger(label: "tt-server-test", factory: { _ in SwiftLogNoOpLogHandler() }),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        threadPool: NIOThreadPool = .singleton,
        metrics: ServerMetrics = ServerMetrics(),
        configure: @Sendable (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tt-server-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let usersPath = directory.appendingPathComponent("users").path
            _ = FileManager.default.createFile(
                atPath: usersPath,
                contents: Data(),
                attributes: [.posixPermissions: 0o600]
            )
            for (user, password) in users.sorted(by: { $0.key < $1.key }) {
                try UserDirectory.addUser(user, password: password, toFileAt: usersPath, iterations: 1_000)
            }
            let identity = try ServerIdentity.loadOrCreate(path: directory.appendingPathComponent("identity.pem").path)
            var configuration = ServerConfiguration(
                listenAddresses: [ListenAddress(host: host, port: 0)],
                identity: identity,
                users: try UserDirectory.load(path: usersPath),
                limits: limits,
                failedLoginDelay: .milliseconds(20),
                shutdownGracePeriod: .seconds(5)
            )
            // TLS and raw on one port, as tt-server runs (clients use TLS through proxies by default).
            configuration.tls = try SelfSignedCertificate.loadOrCreate(
                besideIdentity: directory.appendingPathComponent("identity.pem").path,
                name: host
            ).context
            configure(&configuration)
            let server = FrameworkServer(
                configuration: configuration,
                logger: logger,
                eventLoopGroup: eventLoopGroup,
                threadPool: threadPool,
                metrics: metrics
            )
            let addresses = try await server.start()
            guard let port = addresses.first?.port else {
                await server.shutdown()
                throw ProcessRunError(description: "the test server bound no address")
            }
            return TestServer(server: server, host: host, port: port, identity: identity, directory: directory)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Shuts the server down gracefully and removes its temporary directory.
    public func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}
