import ArgumentParser
import Glibc
import Logging
import NIOCore
import ServiceLifecycle
import TTCommandSupport
import TTProxy
import UnixSignals

/// `tt-proxy`: a small HTTP CONNECT proxy, or with `--scenario` a scripted misbehaving one for tests.
@main
struct TTProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tt-proxy",
        abstract: "A small HTTP CONNECT proxy (tunnels only), or a scripted misbehaving proxy for tests.",
        discussion: """
            Prints 'tt-proxy listening on HOST:PORT' once per listener (so PORT 0 can be read back), then one \
            access log line per request. SIGINT/SIGTERM stop accepting, let tunnels finish for the shutdown \
            grace, then exit.
            """,
        version: VersionReport.text(tool: "tt-proxy", libraries: [.openSSL])
    )

    /// Usage errors exit with 2, like every tt-connect tool (ArgumentParser would use 64).
    static func main() async {
        await CommandRunner.main(Self.self)
    }

    @Option(
        name: .long,
        help: ArgumentHelp("Address to listen on; repeatable; port 0 picks a free port.", valueName: "HOST:PORT")
    )
    var listen: [String] = ["127.0.0.1:3128"]

    @Option(
        name: .long,
        help: ArgumentHelp(
            "htpasswd file (bcrypt -B, -m $apr1$, -s {SHA}, crypt); enables Basic auth.",
            valueName: "FILE"
        )
    )
    var authFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Target ports tunnels may reach, e.g. 443,5000-5010 (default: all); the proxy's own listeners never.",
            valueName: "LIST"
        )
    )
    var allowPorts: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Close a connection or tunnel side idle this long; 0 never.", valueName: "SECONDS")
    )
    var idleTimeout: Double = 300

    @Option(
        name: .long,
        help: ArgumentHelp(
            "After one side of a tunnel closes, close the other once its writes stall this long.",
            valueName: "SECONDS"
        )
    )
    var closeFlushTimeout: Double = 10

    @Option(
        name: .long,
        help: ArgumentHelp("A client must send its whole request head within this long (408).", valueName: "SECONDS")
    )
    var headTimeout: Double = 10

    @Option(name: .long, help: ArgumentHelp("Give up dialing a target after this long (504).", valueName: "SECONDS"))
    var connectTimeout: Double = 10

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Connections open at once, clients and targets (a tunnel uses two); more get 503.",
            valueName: "N"
        )
    )
    var maxConnections: Int = 4096

    @Option(name: .long, help: ArgumentHelp("Largest request head accepted; larger gets 431.", valueName: "BYTES"))
    var maxHeaderBytes: Int = 16 * 1024

    @Option(name: .long, help: ArgumentHelp("Where access log lines go; - is standard output.", valueName: "FILE"))
    var accessLog: String = "-"

    @Option(
        name: .long,
        help: ArgumentHelp("Run a scenario file from proxy-fixtures/ instead of the normal proxy.", valueName: "FILE")
    )
    var scenario: String?

    @Option(
        name: .long,
        help: ArgumentHelp("On SIGINT/SIGTERM, wait this long for open tunnels.", valueName: "SECONDS")
    )
    var shutdownGrace: Double = 5

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How tunnels move bytes: copy (recv/send) or splice (in the kernel, less proxy CPU).",
            valueName: "MODE"
        )
    )
    var relay: String = "copy"

    func validate() throws {
        for address in listen where ProxyServerConfiguration.Listener(parsing: address) == nil {
            throw ValidationError("--listen '\(address)' is not HOST:PORT or [IPv6]:PORT (port 0-65535)")
        }
        guard idleTimeout >= 0, connectTimeout > 0, shutdownGrace >= 0, closeFlushTimeout > 0 else {
            throw ValidationError(
                "--idle-timeout and --shutdown-grace must be >= 0, --connect-timeout and --close-flush-timeout > 0"
            )
        }
        guard headTimeout > 0 else {
            throw ValidationError(
                "--head-timeout must be > 0: clients that never finish a request head hold descriptors"
            )
        }
        // They become nanoseconds in an Int64, which traps past about 292 years (or on `inf`); tt-server's bound.
        for (name, value) in [
            ("--idle-timeout", idleTimeout), ("--close-flush-timeout", closeFlushTimeout),
            ("--head-timeout", headTimeout), ("--connect-timeout", connectTimeout), ("--shutdown-grace", shutdownGrace),
        ] where !(value <= 1e9) {
            throw ValidationError("\(name) must be at most 1000000000 seconds, not \(value)")
        }
        // A scenario answers as its file says (its own expect-auth) and dials whatever the client asks: silently
        // ignored, these flags would leave a proxy its user believes restricted open to every client and port.
        guard scenario == nil || (authFile == nil && allowPorts == nil) else {
            throw ValidationError(
                "--auth-file and --allow-ports do not apply to --scenario: a scenario file answers every client "
                    + "itself (expect-auth) and dials any port; keep a scenario proxy on a loopback listener"
            )
        }
        guard ProxyServerConfiguration.RelayMode(rawValue: relay) != nil else {
            throw ValidationError("--relay must be copy or splice, not '\(relay)'")
        }
        guard maxConnections > 0, maxHeaderBytes >= 256 else {
            throw ValidationError("--max-connections must be > 0 and --max-header-bytes >= 256")
        }
    }

    func run() async throws {
        var configuration = ProxyServerConfiguration()
        configuration.listeners = listen.compactMap(ProxyServerConfiguration.Listener.init(parsing:))
        configuration.idleTimeout = idleTimeout > 0 ? .nanoseconds(Int64(idleTimeout * 1e9)) : nil
        configuration.headTimeout = .nanoseconds(Int64(headTimeout * 1e9))
        configuration.connectTimeout = .nanoseconds(Int64(connectTimeout * 1e9))
        configuration.closeFlushTimeout = .nanoseconds(Int64(closeFlushTimeout * 1e9))
        configuration.maxConnections = maxConnections
        configuration.maxHeadBytes = maxHeaderBytes
        configuration.relayMode = ProxyServerConfiguration.RelayMode(rawValue: relay) ?? .copy
        do {
            if let allowPorts { configuration.allowedPorts = try PortSet(parsing: allowPorts) }
            if let authFile { configuration.users = try HtpasswdFile(contentsOf: authFile) }
            if let scenario { configuration.scenario = try Scenario(contentsOf: scenario) }
        } catch {
            throw CommandFailure.usage("\(error)")
        }
        let log = try LineWriter(path: accessLog)
        configuration.accessLog = { entry in log.write(entry.description) }
        let standardError = LineWriter.standardError
        configuration.eventLog = { message in standardError.write(message) }
        // Each tunnel holds two descriptors; the default soft limit (often 1024) would cap a busy proxy at ~500.
        OpenFileLimit.raiseToHardLimit()

        let proxy: ProxyServer
        do {
            proxy = try await ProxyServer.start(configuration: configuration)
        } catch {
            Console.error("tt-proxy: \(error)")
            throw ExitCode(1)
        }
        let service = ProxyService(
            proxy: proxy,
            scenarioName: configuration.scenario?.name,
            grace: .nanoseconds(Int64(shutdownGrace * 1e9))
        )
        // The same lifecycle as tt-server: swift-service-lifecycle traps the signals before the service runs.
        var logger = Logger(label: "tt-proxy")
        logger.logLevel = .warning
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// The proxy as a service: announces its listeners once the signal handlers are in place (a parent that reads
/// them may signal at once), then runs until the group's graceful shutdown lets tunnels finish for the grace.
struct ProxyService: Service {
    let proxy: ProxyServer
    let scenarioName: String?
    let grace: Duration

    func run() async throws {
        let stdout = LineWriter.standardOutput
        for address in proxy.listeningAddresses {
            let host = address.ipAddress.map { address.protocol == .inet6 ? "[\($0)]" : $0 } ?? "?"
            stdout.write("tt-proxy listening on \(host):\(address.port ?? 0)")
        }
        if let scenarioName {
            stdout.write("tt-proxy running scenario \(scenarioName)")
        }
        try? await gracefulShutdown()
        stdout.write("tt-proxy shutting down")
        await proxy.shutdown(grace: grace)
    }
}

/// Writes whole lines with one `write(2)` each, so lines from different event loops never interleave.
struct LineWriter: Sendable {
    private let descriptor: Int32

    static let standardOutput = LineWriter(descriptor: STDOUT_FILENO)
    static let standardError = LineWriter(descriptor: STDERR_FILENO)

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    init(path: String) throws {
        if path == "-" {
            self = .standardOutput
            return
        }
        // O_APPEND: each line's single write(2) lands at the end, also beside another writer (logrotate's copy).
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CommandFailure.usage(
                "--access-log: cannot open \(path) for writing: \(String(cString: strerror(errno)))"
            )
        }
        self.descriptor = descriptor
    }

    func write(_ line: String) {
        Console.write(line + "\n", to: descriptor)
    }
}
