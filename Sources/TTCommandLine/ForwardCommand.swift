public import ArgumentParser
import Dispatch
import Foundation
import Synchronization
import TTClient
import TTCommandSupport
import TTTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tt-connect forward --listen ADDR:PORT HOST:PORT`: a local listener; every accepted connection gets its own
/// tunnel to the target, relayed on its own thread. Stops on SIGINT or SIGTERM.
public struct ForwardCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Listen locally and relay each connection to HOST:PORT through its own tunnel.",
        discussion: "Prints 'listening on ADDR:PORT' once listening (port 0 picks a free port)."
    )

    @Option(help: ArgumentHelp("Local address to listen on (numeric; port 0 picks one).", valueName: "ADDR:PORT"))
    public var listen: String

    @Option(help: ArgumentHelp("Connections relayed at once; more wait until one ends.", valueName: "COUNT"))
    public var maxConnections = 64

    @OptionGroup public var proxy: ProxyOptions

    @Option(help: ArgumentHelp("Deadline for opening each tunnel.", valueName: "SECONDS"))
    public var timeout: Double = 10

    @Flag(name: .shortAndLong, help: "Explain the proxy decision and report each connection on standard error.")
    public var verbose = false

    @Argument(help: ArgumentHelp("Where each connection goes.", valueName: "HOST:PORT"))
    public var target: String

    public init() {}

    public func validate() throws {
        guard (1...10_000).contains(maxConnections) else {
            throw ValidationError("--max-connections must be from 1 to 10000, not \(maxConnections)")
        }
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be above 0, not \(timeout)") }
        do { _ = try Self.listenEndpoint(listen) } catch { throw ValidationError("--listen: \(error)") }
        do { _ = try Endpoint(parsing: target, defaultPort: nil) } catch { throw ValidationError("\(error)") }
    }

    /// `ADDR:PORT` where, unlike a target, port 0 is allowed (the kernel picks one).
    static func listenEndpoint(_ text: String) throws -> Endpoint {
        guard text.hasSuffix(":0") else { return try Endpoint(parsing: text, defaultPort: nil) }
        var endpoint = try Endpoint(parsing: String(text.dropLast()) + "1", defaultPort: nil)
        endpoint.port = 0
        return endpoint
    }

    public func run() throws {
        let endpoint = try TunnelOpener.endpoint(target, what: "target")
        let route = try TunnelOpener.route(to: endpoint, proxy: proxy, verbose: verbose)
        let listenAt: Endpoint
        do { listenAt = try Self.listenEndpoint(listen) } catch { throw CommandFailure.usage("--listen: \(error)") }
        let listener = try ListeningSocket(listenAt)
        signal(SIGPIPE, SIG_IGN)
        let forwarder = Forwarder(
            target: endpoint,
            route: route,
            timeout: .milliseconds(Int64(timeout * 1000)),
            maxConnections: maxConnections,
            verbose: verbose
        )
        Console.line("listening on \(listener.address)")
        forwarder.serve(listener)
    }
}

/// The accept loop of `forward` and the bookkeeping of its connection threads.
///
/// The open client sockets are shared between the accept loop (which shuts them down on SIGINT/SIGTERM) and
/// the connection threads (which close them), so they sit behind a mutex.
final class Forwarder: Sendable {
    private let target: Endpoint
    private let route: Route
    private let timeout: Duration
    private let maxConnections: Int
    private let verbose: Bool
    private let open = Mutex<Set<Int32>>([])

    init(target: Endpoint, route: Route, timeout: Duration, maxConnections: Int, verbose: Bool) {
        self.target = target
        self.route = route
        self.timeout = timeout
        self.maxConnections = maxConnections
        self.verbose = verbose
    }

    /// Accepts until SIGINT or SIGTERM, then shuts the open connections down and waits (bounded) for their
    /// threads.
    func serve(_ listener: ListeningSocket) {
        var wake: [Int32] = [0, 0]
        guard pipe(&wake) == 0 else { return }
        defer {
            Glibc.close(wake[0])
            Glibc.close(wake[1])
        }
        let writeEnd = wake[1]
        let sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                var byte: UInt8 = 1
                _ = Glibc.write(writeEnd, &byte, 1)
            }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
        }

        while true {
            let full = open.withLock { $0.count >= maxConnections }
            var entries = [pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0)]
            if !full { entries.append(pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&entries, nfds_t(entries.count), full ? 50 : -1)
            if ready < 0, errno != EINTR { break }
            if entries[0].revents != 0 { break }
            if !full, entries[1].revents != 0, let client = listener.accept() {
                start(client)
            }
        }
        stop()
    }

    private func start(_ client: Int32) {
        open.withLock { _ = $0.insert(client) }
        let thread = Thread { [self] in
            relay(client)
            open.withLock {
                $0.remove(client)
                Glibc.close(client)
            }
        }
        thread.start()
    }

    private func relay(_ client: Int32) {
        do {
            let transport = try TunnelOpener.open(target, route: route, deadline: .after(timeout))
            defer { transport.close() }
            let result = try Relay(transport: transport, input: client, output: client).run()
            if verbose {
                Console.error("connection done: \(result.bytesToPeer) bytes to \(target), \(result.bytesFromPeer) back")
            }
        } catch let failure as CommandFailure {
            Console.error("tt-connect forward: \(failure.message)")
        } catch {
            Console.error("tt-connect forward: relaying to \(target) failed: \(error)")
        }
    }

    /// Ends every open connection (their relays see end of stream and error out) and waits up to 5 s.
    private func stop() {
        open.withLock {
            for client in $0 { shutdown(client, Int32(SHUT_RDWR)) }
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while open.withLock({ !$0.isEmpty }), ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
    }
}
