import Foundation
import Logging
import TTClient
import TTCommandSupport
import TTTransport

/// Opens a raw byte stream to a target over a route (no framework handshake): what `pipe` and `forward` relay.
enum TunnelOpener {
    /// - Throws: ``CommandFailure`` with the exit code of the transport failure's category.
    static func open(_ target: Endpoint, route: Route, deadline: Deadline) throws(CommandFailure) -> any Transport {
        do {
            switch route {
            case .direct:
                return try DirectTransport.open(target, deadline: deadline)
            case .proxy(let proxy, let options):
                return try HTTPProxyTransport.open(target: target, proxy: proxy, options: options, deadline: deadline)
            case .autoConfigured(let pacRoute, let options):
                let (transport, note) = try pacRoute.open(target: target, options: options, deadline: deadline)
                options.logger.debug("\(note)")
                return transport
            }
        } catch let error as TransportError {
            throw CommandFailure(error)
        } catch {
            throw CommandFailure(exitCode: 1, message: "\(error)")
        }
    }

    /// The route to `target` from the proxy flags, config file and environment.
    static func route(
        to target: Endpoint,
        proxy: ProxyOptions,
        verbose: Bool
    ) throws(CommandFailure) -> Route {
        let logger = verbose ? ConnectionSetup.verboseLogger() : nil
        let (route, reason) = try proxy.resolveRoute(
            to: target,
            entry: try proxy.loadEntry(),
            environment: ProcessInfo.processInfo.environment,
            options: proxy.httpOptions(logger: logger)
        )
        if verbose { Console.error(reason) }
        return route
    }

    /// Parses `HOST:PORT` (the port is required).
    static func endpoint(_ text: String, what: String) throws(CommandFailure) -> Endpoint {
        do {
            return try Endpoint(parsing: text, defaultPort: nil)
        } catch {
            throw .usage("\(what): \(error)")
        }
    }
}
