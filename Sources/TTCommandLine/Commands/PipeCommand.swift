package import ArgumentParser
import Glibc
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect pipe HOST:PORT` or `tt-connect pipe HOST PORT`: standard input to the target and the target to standard output, through the
/// tunnel (or directly), e.g. as ssh's `ProxyCommand`. End of input half-closes towards the target; the
/// target's end of stream closes standard output and ends the command (exit 0), even while input is idle.
package struct PipeCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "pipe",
        abstract: "Relay standard input and output to HOST:PORT through the proxy (ssh ProxyCommand).",
        discussion: """
            As ssh's ProxyCommand, give host and port apart, as for nc: \
            ssh -o ProxyCommand='tt-connect pipe --proxy proxy.corp:3128 %h %p' HOST. \
            That works for every host: a bare IPv6 address (::1) is accepted there.
            """
    )

    @OptionGroup package var proxy: ProxyOptions
    @OptionGroup package var relayTLS: RelayTLSOptions

    @Option(help: ArgumentHelp("Deadline for opening the connection.", valueName: "SECONDS"))
    package var timeout: Double = 10

    @Flag(
        name: [.customShort("v"), .customLong("verbose")],
        help: "Explain the proxy decision and show the CONNECT exchange on standard error; -vv adds libcurl's trace."
    )
    package var verbosity: Int

    @Argument(
        help: ArgumentHelp("Where to connect: HOST:PORT, or HOST alone with PORT after it.", valueName: "HOST[:PORT]")
    )
    package var target: String

    @Argument(help: ArgumentHelp("The port, when HOST is given alone (ssh's %h %p).", valueName: "PORT"))
    package var port: String?

    private var verbose: Bool { verbosity > 0 }

    package init() {}

    package func validate() throws {
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be above 0, not \(timeout)") }
        do { _ = try TunnelOpener.endpoint(target, port: port, what: "target") } catch {
            throw ValidationError(error.message)
        }
    }

    package func run() throws {
        let endpoint = try TunnelOpener.endpoint(target, port: port, what: "target")
        let (route, origin) = try TunnelOpener.route(to: endpoint, proxy: proxy, verbosity: verbosity)
        let transport = try TunnelOpener.open(
            endpoint,
            route: route,
            origin: origin,
            deadline: .after(.seconds(timeout)),
            tls: relayTLS.mode
        )
        defer { transport.close() }
        // A reader that goes away must end the relay with an error, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        // The target hanging up ends the command at once (exit 0), as ssh expects of a ProxyCommand; it does
        // not wait for standard input to write into a dead connection.
        // One relay per process: 256 KiB a direction (not the default 64 KiB) moves a bulk transfer with a
        // quarter of the reads, polls and sends.
        let relay = Relay(
            transport: transport,
            input: STDIN_FILENO,
            output: STDOUT_FILENO,
            bufferSize: 256 * 1024,
            endsWithPeer: true
        )
        func ending(_ progress: RelayResult) -> RelayEnding {
            TunnelOpener.ending(progress, target: endpoint, route: route, transport: transport, tls: relayTLS.mode)
        }
        do {
            // Said when the peer ends, before standard output closes: ssh kills its ProxyCommand once it reads
            // the end, so a line printed after that would never be seen.
            var said: RelayEnding?
            let result = try relay.run(onPeerEnded: { progress in
                let ended = ending(progress)
                if let note = ended.emptyNote {
                    Console.error("tt-connect: \(note)")
                    said = ended
                }
            })
            if let failure = said?.inspectionFailure { throw ExitCode(failure.exitCode) }
            if verbose { Console.error("relayed \(ending(result).counts)") }
        } catch let error as TransportError {
            let ended = ending(relay.progress)
            if let failure = ended.inspectionFailure { throw failure }
            var failure = Self.relayFailure(error, route: route, through: transport.report.proxy)
            if ended.progress.bytesFromPeer == 0 {
                failure.message += " (nothing came back; \(RelayEnding.bytes(ended.progress.bytesToPeer)) sent)"
            }
            throw failure
        }
    }

    /// A relay failure's exit code: through a proxy, a broken tunnel is the proxy's gateway failure (6), never
    /// the direct-connection "server unreachable" (8).
    /// - Parameter through: the proxy the transport went through, for a route that picked it itself (PAC).
    static func relayFailure(_ error: TransportError, route: Route, through: Endpoint? = nil) -> CommandFailure {
        var proxy = through
        if case .proxy(let configured, _) = route { proxy = configured.endpoint }
        guard let proxy, error.category == .connectionClosed else {
            return CommandFailure(error)
        }
        return CommandFailure(
            exitCode: FrameworkClientError.Category.proxyGatewayFailure.exitCode,
            message: "the tunnel through proxy \(proxy) broke while relaying: \(error.message)"
        )
    }
}
