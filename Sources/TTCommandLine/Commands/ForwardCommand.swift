package import ArgumentParser
import Glibc
import Synchronization
import TTBasics
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect forward --listen ADDR:PORT HOST:PORT`: a local listener; every accepted connection gets its own
/// tunnel to the target, relayed on its own thread. Stops on SIGINT or SIGTERM.
///
/// Idle clients cannot hold the service: a relay with no byte moving for `--idle-timeout` ends, and when all
/// `--max-connections` slots are taken while a new client waits, the relay idle the longest is closed once it
/// has been idle for ``Forwarder/evictionIdleTime``. A relay that moves bytes is never cut.
package struct ForwardCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Listen locally and relay each connection to HOST:PORT through its own tunnel.",
        discussion: """
            Before listening it checks the route once (the proxy is reachable, the tunnel opens, the target \
            answers) and exits with check's exit code when that fails (--no-preflight skips it). Prints \
            'listening on ADDR:PORT' once listening (port 0 picks a free port). Each connection's outcome \
            (bytes both ways, how it ended) is logged on standard error, at most \(Forwarder.reportBurst) lines \
            per \(Forwarder.reportWindow). --tls always carries raw local clients inside TLS to a target that \
            terminates it, through proxies that let only TLS pass; the pre-flight uses the same mode.
            """
    )

    @Option(
        help: ArgumentHelp(
            "Local address to listen on: a numeric address or localhost (127.0.0.1); port 0 picks one.",
            valueName: "ADDR:PORT"
        )
    )
    package var listen: String

    @Option(
        help: ArgumentHelp(
            "Connections relayed at once; more wait until one ends or the idlest one is closed.",
            valueName: "COUNT"
        )
    )
    package var maxConnections = 64

    @Option(help: ArgumentHelp("Close a connection when no byte moved for this long.", valueName: "SECONDS"))
    package var idleTimeout: Double = 300

    @OptionGroup package var proxy: ProxyOptions
    @OptionGroup package var relayTLS: RelayTLSOptions

    @Option(help: ArgumentHelp("Deadline for opening each tunnel.", valueName: "SECONDS"))
    package var timeout: Double = 10

    @Flag(
        name: [.customShort("v"), .customLong("verbose")],
        help: "Explain the proxy decision and the pre-flight on standard error; -vv adds libcurl's trace."
    )
    package var verbosity: Int

    @Flag(help: "Start listening without first checking that the proxy, the tunnel and the target work.")
    package var noPreflight = false

    private var verbose: Bool { verbosity > 0 }

    @Argument(help: ArgumentHelp("Where each connection goes.", valueName: "HOST:PORT"))
    package var target: String

    package init() {}

    package func validate() throws {
        guard (1...10_000).contains(maxConnections) else {
            throw ValidationError("--max-connections must be from 1 to 10000, not \(maxConnections)")
        }
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be above 0, not \(timeout)") }
        guard idleTimeout > 0, idleTimeout <= 604_800 else {
            throw ValidationError("--idle-timeout must be above 0 and at most 604800 seconds, not \(idleTimeout)")
        }
        do { _ = try Self.listenEndpoint(listen) } catch {
            throw ValidationError("--listen: \(TunnelOpener.addressProblem(listen, error))")
        }
        do { _ = try TunnelOpener.endpoint(target, what: "target") } catch { throw ValidationError(error.message) }
    }

    /// `ADDR:PORT` where, unlike a target, port 0 is allowed (the kernel picks one).
    /// `localhost` is 127.0.0.1, as `ssh -L localhost:PORT:…` takes it.
    static func listenEndpoint(_ text: String) throws -> Endpoint {
        var endpoint: Endpoint
        if text.hasSuffix(":0") {
            endpoint = try Endpoint(parsing: String(text.dropLast()) + "1", defaultPort: nil)
            endpoint.port = 0
        } else {
            endpoint = try Endpoint(parsing: text, defaultPort: nil)
        }
        if endpoint.host.lowercased() == "localhost" { endpoint.host = "127.0.0.1" }
        return endpoint
    }

    package func run() throws {
        let endpoint = try TunnelOpener.endpoint(target, what: "target")
        let (route, origin) = try TunnelOpener.route(to: endpoint, proxy: proxy, verbosity: verbosity)
        let listenAt: Endpoint
        do { listenAt = try Self.listenEndpoint(listen) } catch { throw CommandFailure.usage("--listen: \(error)") }
        let listener = try ListeningSocket(listenAt)
        if !noPreflight { try preflight(endpoint, route: route, origin: origin) }
        signal(SIGPIPE, SIG_IGN)
        // Every relay holds two descriptors or more: --max-connections 10000 needs far more than the usual soft
        // limit of 1024 (the servers raise it the same way).
        OpenFileLimit.raiseToHardLimit()
        let forwarder = Forwarder(
            target: endpoint,
            route: route,
            origin: origin,
            timeout: .milliseconds(Int64(timeout * 1000)),
            maxConnections: maxConnections,
            idleTimeout: .milliseconds(Int64(idleTimeout * 1000)),
            tls: relayTLS.mode,
            verbose: verbose
        )
        let stop = try SignalWakeup([SIGINT, SIGTERM])
        Console.line("listening on \(listener.address)")
        forwarder.serve(listener, stoppingOn: stop)
    }

    /// Opens one tunnel to the target and closes it: the proxy answers, it allows the tunnel, and (its `200`
    /// says so) it reached the target; directly, the target accepted the connection. A failure exits with the
    /// code `check` gives it, so a broken route shows at start, not as "closed the connection" to each client.
    private func preflight(_ target: Endpoint, route: Route, origin: RouteOrigin) throws(CommandFailure) {
        do {
            let transport = try TunnelOpener.open(
                target,
                route: route,
                origin: origin,
                deadline: .after(.milliseconds(Int64(timeout * 1000))),
                tls: relayTLS.mode
            )
            transport.close()
            if verbose { Console.error("pre-flight: \(target) is reachable") }
        } catch {
            throw CommandFailure(
                exitCode: error.exitCode,
                message: "pre-flight check failed, not listening: \(error.message) (--no-preflight starts anyway)"
            )
        }
    }
}

/// The accept loop of `forward` and the bookkeeping of its connection threads.
///
/// The open client sockets and when each last moved a byte are shared between the accept loop (which shuts
/// them down on SIGINT/SIGTERM, or the idlest one to make room) and the connection threads (which record
/// activity and close them), so they sit behind a mutex.
final class Forwarder: Sendable {
    /// How long a relay must have been idle before it is closed to make room for a waiting client.
    static let evictionIdleTime = Duration.seconds(5)
    /// At most this many connection reports per ``reportWindow``: a client reconnecting in a loop cannot
    /// flood the log; the reports left out are counted in the next one.
    static let reportBurst = 20
    static let reportWindow = Duration.seconds(10)
    /// Inside TLS a client's end of input cannot be passed on (no half-close): the relay then ends once the
    /// target has been quiet this long, rather than at the idle timeout.
    static let lingerAfterClient = Duration.seconds(5)
    /// How long the listener is left alone after accept(2) found no descriptor (or buffer) for a new client: it
    /// stays readable meanwhile, so retrying at once would spin.
    static let outOfResourcesPause = Duration.milliseconds(100)

    private let target: Endpoint
    private let route: Route
    private let origin: RouteOrigin
    private let timeout: Duration
    private let maxConnections: Int
    private let idleTimeout: Duration
    private let tls: TLSMode
    private let verbose: Bool
    private let reports = Mutex(LogRateLimit(burst: Forwarder.reportBurst, window: Forwarder.reportWindow))
    /// Open client sockets → when their relay last moved a byte (`nil` once shut down to make room).
    private let open = Mutex<[Int32: ContinuousClock.Instant?]>([:])

    init(
        target: Endpoint,
        route: Route,
        origin: RouteOrigin,
        timeout: Duration,
        maxConnections: Int,
        idleTimeout: Duration,
        tls: TLSMode,
        verbose: Bool
    ) {
        self.target = target
        self.route = route
        self.origin = origin
        self.timeout = timeout
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.tls = tls
        self.verbose = verbose
    }

    /// Accepts until `stop` sees SIGINT or SIGTERM, then shuts the open connections down and waits (bounded) for their
    /// threads.
    func serve(_ listener: ListeningSocket, stoppingOn stop: SignalWakeup) {

        var accepted = 0
        // Until when the listener is left alone after running out of descriptors, and whether that was said (once
        // per run: it comes and goes with every relay that ends).
        var pausedUntil: ContinuousClock.Instant?
        var outOfResourcesSaid = false
        while true {
            let full = open.withLock { $0.count >= maxConnections }
            if let until = pausedUntil, until <= .now { pausedUntil = nil }
            // When full, watch the listener only while an idle relay could make room; otherwise a waiting client
            // would wake the loop again and again. The same while paused for lack of descriptors.
            let watchListener = pausedUntil == nil && (!full || idlestRelay() != nil)
            var entries = [pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0)]
            if watchListener { entries.append(pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)) }
            let wait =
                pausedUntil.map { Int32(clamping: ($0 - .now).wholeMillisecondsRoundedUp) } ?? (full ? 50 : -1)
            let ready = poll(&entries, nfds_t(entries.count), wait)
            if ready < 0, errno != EINTR { break }
            if entries[0].revents != 0 { break }
            guard watchListener, entries[1].revents != 0 else { continue }
            if !full {
                switch listener.accept() {
                case .client(let client):
                    accepted += 1
                    start(client, number: accepted)
                case .outOfResources(let code):
                    pausedUntil = .now + Self.outOfResourcesPause
                    if !outOfResourcesSaid {
                        outOfResourcesSaid = true
                        Console.error(
                            "tt-connect forward: cannot accept a new client: \(SystemErrorText.describe(errno: code)); "
                                + "it waits until a connection ends (fewer --max-connections, or a higher "
                                + "ulimit -n, avoid this)"
                        )
                    }
                case .nothing:
                    break
                }
            } else if let idlest = idlestRelay() {
                // A client waits and every slot is taken: close the relay idle the longest; its thread frees the
                // slot and the next round accepts.
                open.withLock { $0[idlest] = .some(nil) }
                shutdown(idlest, Int32(SHUT_RDWR))
                if verbose { Console.error("closing an idle connection to make room for a new one") }
                OSThread.sleep(.milliseconds(10))
            }
        }
        shutDownRelays()
    }

    /// The relay idle the longest, when it has been idle for at least ``evictionIdleTime``.
    private func idlestRelay() -> Int32? {
        let now = ContinuousClock.now
        return open.withLock { open in
            let candidates = open.compactMap { entry in entry.value.map { (client: entry.key, since: $0) } }
            guard let idlest = candidates.min(by: { $0.since < $1.since }),
                now - idlest.since >= Self.evictionIdleTime
            else { return nil }
            return idlest.client
        }
    }

    private func start(_ client: Int32, number: Int) {
        open.withLock { $0[client] = .some(.now) }
        do {
            try OSThread.detach(name: "tt-forward") { [self] in
                relay(client, number: number)
                finish(client)
            }
        } catch {
            Console.error("tt-connect forward: no thread for a new connection (\(error)); closing it")
            finish(client)
        }
    }

    /// Frees the slot of `client` and closes it.
    private func finish(_ client: Int32) {
        open.withLock {
            $0.removeValue(forKey: client)
            Glibc.close(client)
        }
    }

    /// Relays one client and logs how it ended (``report(_:)``).
    private func relay(_ client: Int32, number: Int) {
        let name = "connection \(number) to \(target)"
        let transport: any Transport
        do {
            transport = try TunnelOpener.open(
                target,
                route: route,
                origin: origin,
                deadline: .after(timeout),
                tls: tls
            )
        } catch {
            report("\(name) failed: \(error.message)")
            return
        }
        defer { transport.close() }
        let relay = Relay(transport: transport, input: client, output: client)
        func ending(_ progress: RelayResult) -> RelayEnding {
            TunnelOpener.ending(progress, target: target, route: route, transport: transport, tls: tls)
        }
        do {
            let result = try relay.run(
                idleTimeout: idleTimeout,
                onActivity: { open.withLock { if $0[client] != .some(nil) { $0[client] = .some(.now) } } },
                lingerAfterInput: Self.lingerAfterClient
            )
            let ended = ending(result)
            report("\(name) ended: \(ended.counts)" + (ended.emptyNote.map { "; \($0)" } ?? ""))
        } catch {
            let ended = ending(relay.progress)
            let why = ended.inspectionFailure?.message ?? (error as? TransportError)?.message ?? "\(error)"
            report("\(name) failed: \(ended.counts); \(why)")
        }
    }

    /// Logs one connection's outcome on standard error, within ``reportBurst`` per ``reportWindow``.
    private func report(_ line: String) {
        guard let left = reports.withLock({ $0.admit(now: .now) }) else { return }
        let omitted = left > 0 ? " (\(left) earlier reports left out)" : ""
        Console.error("tt-connect forward: \(line)\(omitted)")
    }

    /// Ends every open connection (their relays see end of stream and error out) and waits up to 5 s.
    private func shutDownRelays() {
        open.withLock {
            for client in $0.keys { shutdown(client, Int32(SHUT_RDWR)) }
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while open.withLock({ !$0.isEmpty }), ContinuousClock.now < deadline {
            OSThread.sleep(.milliseconds(20))
        }
    }
}

/// Lets at most `burst` lines through per `window`, counting the ones it holds back.
struct LogRateLimit {
    let burst: Int
    let window: Duration
    private var windowStart: ContinuousClock.Instant?
    private var passed = 0
    private var held = 0

    init(burst: Int, window: Duration) {
        self.burst = burst
        self.window = window
    }

    /// `nil` when the line is held back; otherwise how many lines were held back since the last one passed.
    mutating func admit(now: ContinuousClock.Instant) -> Int? {
        if let start = windowStart, now - start < window {
            guard passed < burst else {
                held += 1
                return nil
            }
        } else {
            windowStart = now
            passed = 0
        }
        passed += 1
        defer { held = 0 }
        return held
    }
}
