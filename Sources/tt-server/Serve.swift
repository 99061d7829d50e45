import ArgumentParser
import FoundationEssentials
import Glibc
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import TTBasics
import TTCommandSupport
import TTProtocol
import TTServer
import UnixSignals

/// `tt-server [serve]`: run the server until SIGINT or SIGTERM; SIGHUP reloads the users file.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the framework server until SIGINT or SIGTERM (the default subcommand).",
        discussion: """
            SIGTERM or SIGINT drains: the health check answers 503 (for --drain-delay while still serving), \
            listeners close, requests in flight finish \
            within --shutdown-grace, idle sessions are closed. SIGHUP reads the users file again without closing \
            a session.
            """
    )

    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp(
            "Address to listen on; repeat for several (IPv6 in brackets, e.g. [::1]:5000). Default 0.0.0.0:5000.",
            valueName: "HOST:PORT"
        )
    )
    var listen: [String] = []

    @Option(
        help: ArgumentHelp(
            "Identity key file; created (mode 0600) if absent. Default: $STATE_DIRECTORY/identity.pem, for root "
                + "/var/lib/tt-server/identity.pem, else ~/.local/state/tt-server/identity.pem.",
            valueName: "FILE"
        )
    )
    var identity: String?

    @Option(
        help: ArgumentHelp(
            "Serve GET /healthz (200 serving, 503 draining) and GET /metrics (Prometheus) here, e.g. 127.0.0.1:9100; a bare PORT means 127.0.0.1:PORT.",
            valueName: "[HOST:]PORT"
        )
    )
    var adminListen: String?

    @Option(
        help: ArgumentHelp(
            "Admin connections open at once; at the cap a newcomer takes the place of the one waiting longest (1 to 1024).",
            valueName: "COUNT"
        )
    )
    var adminMaxConnections = AdminServer.Limits().maxConnections

    @Option(
        help: ArgumentHelp(
            "Admin connections open at once from one address (an IPv6 address by its /64); one more from it is closed as soon as it is accepted (1 to 1024).",
            valueName: "COUNT"
        )
    )
    var adminMaxConnectionsPerAddress = AdminServer.Limits().maxConnectionsPerAddress

    @Option(
        help: ArgumentHelp(
            "Close an admin connection that has not sent a whole request head by then (at most 300).",
            valueName: "SECONDS"
        )
    )
    var adminHeadTimeout: Double = 10

    @Option(
        help: ArgumentHelp(
            "Largest admin request head; more is answered 431 and closed (512 to 65536).",
            valueName: "BYTES"
        )
    )
    var adminMaxHeadSize = AdminServer.Limits().maxHeadBytes

    /// The admin listener's bounds from `--admin-max-connections`, `--admin-max-connections-per-address`,
    /// `--admin-head-timeout` and `--admin-max-head-size` (checked by ``validate()``).
    var adminLimits: AdminServer.Limits {
        AdminServer.Limits(
            maxConnections: adminMaxConnections,
            maxConnectionsPerAddress: adminMaxConnectionsPerAddress,
            headTimeout: .milliseconds(Int64(adminHeadTimeout * 1000)),
            maxHeadBytes: adminMaxHeadSize
        )
    }

    @Option(
        help: ArgumentHelp(
            "Users file for Login (see `tt-server add-user`); without it every login is rejected.",
            valueName: "FILE"
        )
    )
    var users: String?

    @Option(help: ArgumentHelp("Close sessions silent for this long.", valueName: "SECONDS"))
    var idleTimeout: Double = 300

    @Option(
        help: ArgumentHelp(
            "Close connections that have not completed the handshake by then.",
            valueName: "SECONDS"
        )
    )
    var handshakeTimeout: Double = 10

    @Option(help: ArgumentHelp("Sessions held at once; more are closed at once.", valueName: "COUNT"))
    var maxConnections = 10_000

    @Option(help: ArgumentHelp("Largest frame accepted, in bytes.", valueName: "BYTES"))
    var maxFrameSize = 16 << 20

    @Option(help: ArgumentHelp("Largest packet a frame may inflate to, in bytes.", valueName: "BYTES"))
    var maxInflatedSize = 64 << 20

    @Option(help: ArgumentHelp("How long shutdown waits for in-flight requests.", valueName: "SECONDS"))
    var shutdownGrace: Double = 10

    @Option(
        help: ArgumentHelp(
            "On SIGTERM/SIGINT, answer /healthz with 503 for this long while still serving, then drain; set it to "
                + "the balancer's health-check interval or more.",
            valueName: "SECONDS"
        )
    )
    var drainDelay: Double = 0

    @Option(
        help: ArgumentHelp(
            "Close a session whose started frame is not complete by then (at most --idle-timeout).",
            valueName: "SECONDS"
        )
    )
    var frameTimeout: Double = 30

    @Option(
        help: ArgumentHelp(
            "Bytes all sessions may buffer (input, queued frames, unread answers); past it the asking session closes.",
            valueName: "BYTES"
        )
    )
    var maxBufferedBytes = 256 << 20

    @Option(
        name: .customLong("max-prelogin-buffered-bytes"),
        help: ArgumentHelp("The share of --max-buffered-bytes of sessions not logged in.", valueName: "BYTES")
    )
    var maxPreLoginBufferedBytes = 32 << 20

    @Option(
        name: .customLong("prelogin-max-packet-size"),
        help: ArgumentHelp("Largest frame and inflated packet before login.", valueName: "BYTES")
    )
    var preLoginMaxPacketSize = 64 << 10

    // Optional, so that --help (and the man page built on another machine) does not print this machine's count.
    @Option(
        help: ArgumentHelp(
            "Password checks at once (default: half this machine's cores, at least 1).",
            valueName: "COUNT"
        )
    )
    var maxLoginChecks: Int?

    @Option(help: ArgumentHelp("Password checks one source address may have waiting.", valueName: "COUNT"))
    var maxQueuedLoginsPerAddress = 4

    @Option(help: ArgumentHelp("Log lines of one kind peers can cause per second; 0: no limit.", valueName: "COUNT"))
    var logRate = 20

    @Flag(help: "Expect a PROXY protocol v1/v2 header on every connection (behind HAProxy `send-proxy`).")
    var proxyProtocol = false

    @Option(
        help: ArgumentHelp(
            "The balancers that may send a PROXY header (implies --proxy-protocol); connections from anywhere else "
                + "are refused. Default with --proxy-protocol: loopback only.",
            valueName: "CIDR[,CIDR...]"
        )
    )
    var proxyProtocolFrom: String?

    /// The `--proxy-protocol-from` blocks; throws naming the first item that is not `ADDRESS/BITS`.
    static func networks(parsing list: String) throws -> [IPNetwork] {
        do {
            return try ServerConfiguration.proxyProtocolSources(parsing: list)
        } catch {
            throw ValidationError(error.description)
        }
    }

    @Option(
        help: ArgumentHelp(
            "Append one line per executed request (pid, session, function, opt-args) to FILE, for fault-injection "
                + "tests such as scripts/soak.",
            valueName: "FILE"
        )
    )
    var requestLog: String?

    @Option(
        help: ArgumentHelp(
            "TLS certificate chain (PEM) for clients that connect with TLS; default: a self-signed one created "
                + "beside --identity.",
            valueName: "FILE"
        )
    )
    var tlsCert: String?

    @Option(help: ArgumentHelp("The private key (PEM) of --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Option(
        help: ArgumentHelp(
            "The name (CN and subjectAltName) of the self-signed certificate; default: the first --listen host, or "
                + "this machine's host name for a wildcard address.",
            valueName: "NAME"
        )
    )
    var tlsName: String?

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "LEVEL"))
    var logLevel: LogLevel = .info

    func validate() throws {
        for text in listen {
            do { _ = try ListenAddress(parsing: text) } catch { throw ValidationError("\(error)") }
        }
        if let adminListen {
            do { _ = try ListenAddress(parsingAdmin: adminListen) } catch { throw ValidationError("\(error)") }
        }
        for (name, value) in [
            ("--idle-timeout", idleTimeout), ("--handshake-timeout", handshakeTimeout),
            ("--shutdown-grace", shutdownGrace), ("--frame-timeout", frameTimeout),
        ] where !(value > 0 && value <= 1e9) {
            throw ValidationError("\(name) must be a positive number of seconds, not \(value)")
        }
        for (name, value) in [
            ("--max-connections", maxConnections), ("--max-frame-size", maxFrameSize),
            ("--max-inflated-size", maxInflatedSize), ("--max-buffered-bytes", maxBufferedBytes),
            ("--max-prelogin-buffered-bytes", maxPreLoginBufferedBytes),
            ("--prelogin-max-packet-size", preLoginMaxPacketSize), ("--max-login-checks", maxLoginChecks ?? 1),
        ] where value <= 0 {
            throw ValidationError("\(name) must be a positive number, not \(value)")
        }
        // Whoever reaches the admin port is not trusted: every bound stays bounded.
        guard (1...1024).contains(adminMaxConnections) else {
            throw ValidationError("--admin-max-connections must be between 1 and 1024, not \(adminMaxConnections)")
        }
        guard (1...1024).contains(adminMaxConnectionsPerAddress) else {
            throw ValidationError(
                "--admin-max-connections-per-address must be between 1 and 1024, not \(adminMaxConnectionsPerAddress)"
            )
        }
        guard adminHeadTimeout > 0, adminHeadTimeout <= 300 else {
            throw ValidationError(
                "--admin-head-timeout must be more than 0 and at most 300 seconds, not \(adminHeadTimeout)"
            )
        }
        guard (512...65536).contains(adminMaxHeadSize) else {
            throw ValidationError("--admin-max-head-size must be between 512 and 65536 bytes, not \(adminMaxHeadSize)")
        }
        guard drainDelay >= 0, drainDelay <= 3600 else {
            throw ValidationError("--drain-delay must be between 0 and 3600 seconds, not \(drainDelay)")
        }
        for (name, value) in [("--max-queued-logins-per-address", maxQueuedLoginsPerAddress), ("--log-rate", logRate)]
        where value < 0 {
            throw ValidationError("\(name) must not be negative, not \(value)")
        }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together; give both, or neither for a self-signed one")
        }
        if tlsCert != nil, tlsName != nil {
            throw ValidationError("--tls-name names the self-signed certificate; --tls-cert brings its own name")
        }
        if let proxyProtocolFrom { _ = try Self.networks(parsing: proxyProtocolFrom) }
        if maxFrameSize > Int(UInt32.max) {
            throw ValidationError("--max-frame-size must fit the 4-byte length prefix (at most \(UInt32.max))")
        }
        if maxInflatedSize > Int(UInt32.max) {
            throw ValidationError(
                "--max-inflated-size must fit the 4-byte count of an Echo answer (at most \(UInt32.max))"
            )
        }
    }

    func run() async throws {
        OpenFileLimit.raiseToHardLimit()
        MemoryReturn.configure()
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let identity = try identityPath()
        let serverIdentity: ServerIdentity
        do {
            if self.identity == nil { try IdentityLocation.createDirectory(of: identity) }
            // The key's permissions are checked on the descriptor that is read (FilePermissions.readSecret).
            serverIdentity = try ServerIdentity.loadOrCreate(path: identity)
        } catch let error as ProtocolError where error != .identityFileInvalid {
            printError("\(error)")
            throw ExitCode(ExitStatus.usage)
        } catch {
            printError("\(error) (identity file \(identity); remove it to create a new identity)")
            throw ExitCode(ExitStatus.usage)
        }
        printLine("identity \(serverIdentity.fingerprint)")

        var directory = UserDirectory()
        if let users {
            do {
                directory = try Self.loadUsers(users)
            } catch {
                printError("\(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        let logger = Logger(label: "tt-server")
        let registry = PrometheusCollectorRegistry()
        if users == nil { logger.notice("no --users file: every login will be rejected") }

        let addresses = try (listen.isEmpty ? ["0.0.0.0:5000"] : listen).map { try ListenAddress(parsing: $0) }
        var configuration = ServerConfiguration(
            listenAddresses: addresses,
            identity: serverIdentity,
            users: directory,
            limits: ProtocolLimits(
                maxFrameSize: maxFrameSize,
                maxInflatedSize: maxInflatedSize,
                handshakeTimeout: .milliseconds(Int64(handshakeTimeout * 1000)),
                idleTimeout: .milliseconds(Int64(idleTimeout * 1000)),
                maxConnections: maxConnections
            ),
            shutdownGracePeriod: .milliseconds(Int64(shutdownGrace * 1000)),
            acceptsProxyProtocol: proxyProtocol || proxyProtocolFrom != nil,
            maxBufferedBytes: maxBufferedBytes,
            maxPreLoginBufferedBytes: maxPreLoginBufferedBytes,
            preLoginMaxPacketSize: preLoginMaxPacketSize,
            frameTimeout: .milliseconds(Int64(frameTimeout * 1000)),
            maxConcurrentLoginChecks: maxLoginChecks ?? ServerConfiguration.defaultConcurrentLoginChecks,
            maxQueuedLoginsPerAddress: maxQueuedLoginsPerAddress,
            maxLogLinesPerSecond: logRate
        )
        configuration.drainDelay = .milliseconds(Int64(drainDelay * 1000))
        if let proxyProtocolFrom {
            configuration.proxyProtocolSources = try Self.networks(parsing: proxyProtocolFrom)
        } else if proxyProtocol {
            logger.notice(
                "--proxy-protocol without --proxy-protocol-from: PROXY headers are accepted from loopback only",
                metadata: ["trusted": "127.0.0.0/8, ::1/128"]
            )
        }
        do {
            configuration.tls = try ServerTLSSetup.context(
                certificate: tlsCert,
                key: tlsKey,
                name: tlsName,
                identityPath: identity,
                listen: addresses
            )
        } catch {
            printError("\(error)")
            throw ExitCode(ExitStatus.usage)
        }
        if let requestLog {
            do {
                configuration.requestLog = try RequestLog(path: requestLog)
            } catch {
                printError("\(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        let server = FrameworkServer(
            configuration: configuration,
            logger: logger,
            metrics: ServerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        )
        let bound: [SocketAddress]
        var admin: AdminServer?
        do {
            bound = try await server.start()
            if let adminListen {
                admin = try await AdminServer.start(
                    address: try ListenAddress(parsingAdmin: adminListen),
                    limits: adminLimits,
                    health: { server.isServing },
                    metrics: { registry.emitToString() },
                    logger: logger,
                    logRate: logRate,
                    counters: server.metrics
                )
            }
        } catch {
            await server.shutdown()
            printError("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
        // Trapped before anything announces the process: an early SIGHUP must not end it (its default action).
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reloadActions = reloadActions(server: server)
        let announce: @Sendable () -> Void = { [adminAddress = admin?.localAddress] in
            // Printed once the group has installed its signal handlers: whoever reads these lines may signal at
            // once, and must get a graceful exit.
            for address in bound {
                printLine("tt-server listening on \(FrameworkServer.format(address))")
            }
            if let adminAddress {
                printLine("tt-server admin listening on \(FrameworkServer.format(adminAddress))")
            }
            SystemdNotify.ready()  // Type=notify (contrib/tt-server.service): accepting now
        }
        var services: [any Service] = []
        // Shut down in reverse: the server drains first while the admin listener still answers 503.
        if let admin { services.append(AdminService(admin)) }
        services.append(
            ReloadService(signals: hangups, actions: reloadActions, metrics: server.metrics, logger: logger)
        )
        services.append(FrameworkServerService(server, onRunning: announce))
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    /// What SIGHUP reloads, in order. Each action reports its changes in counts; a failure keeps the old state.
    private func reloadActions(server: FrameworkServer) -> [ReloadAction] {
        var actions: [ReloadAction] = []
        if let users {
            actions.append(
                ReloadAction(name: "users file", file: .users) {
                    let changes = try server.users.reload(with: try Self.loadUsers(users))
                    return ReloadReport(
                        changes: changes.description,
                        warning: changes.removesMostUsers
                            ? "it removed \(changes.removed) of \(changes.previousUsers) users" : nil
                    )
                }
            )
        }
        if let tls = server.configuration.tls {
            actions.append(
                ReloadAction(name: "TLS certificate", file: .tlsCertificate) {
                    try tls.reload()
                    return ReloadReport(changes: "\(tls.certificatePath), valid until \(Self.utc(tls.notValidAfter))")
                }
            )
        }
        return actions
    }

    /// `2028-01-07 12:00:00 UTC` for seconds since 1970: a date an operator reads at a glance.
    static func utc(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let date = [
            NumberText.zeroPadded(parts.tm_year + 1900, width: 4), NumberText.zeroPadded(parts.tm_mon + 1, width: 2),
            NumberText.zeroPadded(parts.tm_mday, width: 2),
        ]
        let clock = [parts.tm_hour, parts.tm_min, parts.tm_sec].map { NumberText.zeroPadded($0, width: 2) }
        return "\(date.joined(separator: "-")) \(clock.joined(separator: ":")) UTC"
    }

    /// Reads and checks the users file: parseable, and not readable by others.
    private static func loadUsers(_ path: String) throws -> UserDirectory {
        try UserDirectory.load(path: path)
    }

    /// `--identity`, or the default location (see ``IdentityLocation``); the old default in the current
    /// directory is still used when it exists and the new one does not, with a warning.
    private func identityPath() throws -> String {
        if let identity { return identity }
        guard
            let path = IdentityLocation.defaultPath(environment: ProcessInfo.processInfo.environment, userID: getuid())
        else {
            printError("no default place for the identity key (no HOME); pass --identity FILE")
            throw ExitCode(ExitStatus.usage)
        }
        let legacy = IdentityLocation.legacyPath
        if !FileManager.default.fileExists(atPath: path), FileManager.default.fileExists(atPath: legacy) {
            printError(
                "warning: using ./\(legacy), the identity key in the current directory (the old default); move it "
                    + "to \(path) or pass --identity"
            )
            return legacy
        }
        return path
    }
}

/// The values of `--log-level`: swift-log's levels by name.
enum LogLevel: String, CaseIterable, ExpressibleByArgument {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}
