import FoundationEssentials
import Logging
import TTClient
import TTCommandSupport
import TTTransport

/// Opens a raw byte stream to a target over a route (no framework handshake): what `pipe` and `forward` relay.
enum TunnelOpener {
    /// - Parameter tls: when the bytes travel inside TLS with the target (``TLSMode/wraps(throughProxy:)``).
    /// - Throws: ``CommandFailure`` with the exit code of the transport failure's category, its message naming
    ///   the route's `origin`.
    static func open(
        _ target: Endpoint,
        route: Route,
        origin: RouteOrigin,
        deadline: Deadline,
        tls: TLSMode = .never
    ) throws(CommandFailure) -> any Transport {
        let settings = TargetTLSOptions(mode: tls)
        do {
            switch route {
            case .direct:
                let wrapped = tls.wraps(throughProxy: false) ? settings : nil
                return try DirectTransport.open(target, deadline: deadline, tls: wrapped)
            case .proxy(let proxy, let options):
                return try HTTPProxyTransport.open(
                    target: target,
                    proxy: proxy,
                    options: options,
                    deadline: deadline,
                    tls: tls.wraps(throughProxy: true) ? settings : nil
                )
            case .autoConfigured(let pacRoute, let options):
                let (transport, note) = try pacRoute.open(
                    target: target,
                    options: options,
                    deadline: deadline,
                    tls: settings
                )
                options.logger.debug("\(note)")
                return transport
            }
        } catch let error as TransportError {
            let failure = CommandFailure(error)
            throw CommandFailure(exitCode: failure.exitCode, message: origin.named(failure.message))
        } catch {
            throw CommandFailure(exitCode: 1, message: "\(error)")
        }
    }

    /// The URL of the proxy `transport` went through (the route's, or the PAC entry used); `nil` when direct.
    static func proxyURL(route: Route, transport: any Transport) -> String? {
        if case .proxy(let proxy, _) = route { return proxy.url }
        return transport.report.proxy.map { "http://\($0)" }
    }

    /// How a relay over `transport` ended (``RelayEnding``).
    static func ending(
        _ progress: RelayResult,
        target: Endpoint,
        route: Route,
        transport: any Transport,
        tls: TLSMode
    ) -> RelayEnding {
        let proxy = proxyURL(route: route, transport: transport)
        return RelayEnding(
            progress: progress,
            target: target,
            proxy: proxy,
            wrapped: tls.wraps(throughProxy: proxy != nil)
        )
    }

    /// The route to `target` from the proxy flags, config file and environment.
    static func route(
        to target: Endpoint,
        proxy: ProxyOptions,
        verbosity: Int
    ) throws(CommandFailure) -> (route: Route, origin: RouteOrigin) {
        let verbose = verbosity > 0
        let logger = verbose ? ConnectionSetup.verboseLogger() : nil
        let (route, reason, origin) = try proxy.resolveRoute(
            to: target,
            entry: try proxy.loadEntry(),
            environment: ProcessInfo.processInfo.environment,
            options: proxy.httpOptions(logger: logger, verbosity: verbosity)
        )
        if verbose { Console.error(reason) }
        return (route, origin)
    }

    /// Parses `HOST:PORT` (the port is required), or with `port` given apart (`HOST PORT`, as nc, ncat and
    /// corkscrew take it, so ssh's `%h %p` works for IPv6 hosts too) a bare host: a name, an IPv4 address, or an
    /// IPv6 address with or without brackets.
    static func endpoint(_ text: String, port: String? = nil, what: String) throws(CommandFailure) -> Endpoint {
        do {
            guard let port else { return try Endpoint(parsing: text, defaultPort: nil) }
            guard let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isASCII) else {
                throw CommandFailure.usage("\(what): port '\(port)' is not a number from 1 to 65535")
            }
            return try bareHost(text, port: number)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw .usage("\(what): \(addressProblem(text, error))")
        }
    }

    /// What is wrong with an address, without echoing one that holds `user:password@`: an error message must
    /// never show a password, even one typed in the wrong place.
    static func addressProblem(_ text: String, _ error: any Error) -> String {
        guard text.contains("@") else { return "\(error)" }
        return "the address contains '@' and is not HOST[:PORT] (not repeated here: it may hold a password); "
            + "a user and password go in -S user:password@server:port or --proxy-user"
    }

    /// `host` alone (a bare IPv6 address allowed, as ping takes it) with `port`.
    static func bareHost(_ host: String, port: Int) throws -> Endpoint {
        let unbracketed = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if unbracketed.contains(":") {
            return try Endpoint(parsing: "[\(unbracketed)]:\(port)", defaultPort: nil)
        }
        return try Endpoint(parsing: "\(unbracketed):\(port)", defaultPort: nil)
    }
}
