import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCore
import TTBasics
import TTCommandSupport
import TTProtocol
import TTServer

/// `tt-server [serve]`: run the server until SIGINT or SIGTERM.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the framework server until SIGINT or SIGTERM (the default subcommand)."
    )

    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp(
            "Address to listen on; repeat for several (IPv6 in brackets, e.g. [::1]:5000). Default 0.0.0.0:5000.",
            valueName: "HOST:PORT"
        )
    )
    var listen: [String] = []

    @Option(help: ArgumentHelp("Identity key file; created (mode 0600) if absent.", valueName: "FILE"))
    var identity = "tt-server-identity.pem"

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

    @Option(help: ArgumentHelp("Password checks at once (default: half the cores).", valueName: "COUNT"))
    var maxLoginChecks = max(1, System.coreCount / 2)

    @Option(help: ArgumentHelp("Password checks one source address may have waiting.", valueName: "COUNT"))
    var maxQueuedLoginsPerAddress = 4

    @Option(help: ArgumentHelp("Log lines of one kind peers can cause per second; 0: no limit.", valueName: "COUNT"))
    var logRate = 20

    @Flag(help: "Expect a PROXY protocol v1/v2 header on every connection (behind HAProxy `send-proxy`).")
    var proxyProtocol = false

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
            ("--prelogin-max-packet-size", preLoginMaxPacketSize), ("--max-login-checks", maxLoginChecks),
        ] where value <= 0 {
            throw ValidationError("\(name) must be a positive number, not \(value)")
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
        if maxFrameSize > Int(UInt32.max) {
            throw ValidationError("--max-frame-size must fit the 4-byte length prefix (at most \(UInt32.max))")
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
        let serverIdentity: ServerIdentity
        do {
            serverIdentity = try ServerIdentity.loadOrCreate(path: identity)
            try FilePermissions.checkSecret(identity, what: "identity key")
        } catch let refusal as FilePermissions.Refusal {
            printError("\(refusal)")
            throw ExitCode(ExitStatus.usage)
        } catch {
            printError("\(error) (identity file \(identity); remove it to create a new identity)")
            throw ExitCode(ExitStatus.usage)
        }
        printLine("identity \(serverIdentity.fingerprint)")

        var directory = UserDirectory()
        if let users {
            do {
                directory = try UserDirectory.load(path: users)
                try FilePermissions.checkSecret(users, what: "users file")
            } catch {
                printError("\(error)")
                throw ExitCode(ExitStatus.usage)
            }
        }
        let logger = Logger(label: "tt-server")
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
            acceptsProxyProtocol: proxyProtocol,
            maxBufferedBytes: maxBufferedBytes,
            maxPreLoginBufferedBytes: maxPreLoginBufferedBytes,
            preLoginMaxPacketSize: preLoginMaxPacketSize,
            frameTimeout: .milliseconds(Int64(frameTimeout * 1000)),
            maxConcurrentLoginChecks: maxLoginChecks,
            maxQueuedLoginsPerAddress: maxQueuedLoginsPerAddress,
            maxLogLinesPerSecond: logRate
        )
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
        let server = FrameworkServer(configuration: configuration, logger: logger)
        let bound: [SocketAddress]
        do {
            bound = try await server.start()
        } catch {
            printError("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
        // Before the `listening` lines: whoever reads them may signal at once, and must get a graceful exit.
        let signals = SignalHandlers([SIGINT, SIGTERM]) { signal in
            logger.info("signal received, shutting down", metadata: ["signal": "\(signal)"])
            Task { await server.shutdown() }
        }
        for address in bound {
            printLine("tt-server listening on \(FrameworkServer.format(address))")
        }
        SystemdNotify.ready()  // Type=notify (contrib/tt-server.service): accepting now
        try await server.run()
        signals.cancel()
    }
}

/// The values of `--log-level`: swift-log's levels by name.
enum LogLevel: String, CaseIterable, ExpressibleByArgument {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}

/// Turns SIGINT/SIGTERM into a call instead of the default termination, so shutdown can be graceful.
final class SignalHandlers {
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
