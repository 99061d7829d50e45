import Logging

/// Opens a transport through the entries of a PAC answer in order, passing over the ones that cannot be reached,
/// as browsers do with `PROXY a:3128; PROXY b:8080; DIRECT`.
///
/// Only an unreachable entry (name does not resolve, connection refused, no answer to the TCP connect) moves on
/// to the next: a proxy that answers and refuses (407, 403…) has decided, and hiding that behind the next entry
/// would hide a wrong password. Each entry but the last gets at most half the remaining time, so one proxy that
/// swallows SYNs cannot use up the deadline of those after it.
public enum ProxyAutoConfigFailover {
    /// Opens the first reachable entry of `pac` for `target`.
    /// - Parameters:
    ///   - template: credentials and authentication scheme applied to every `PROXY` entry.
    /// - Returns: the transport and a note for `check` and `-v`: which entry was used and why.
    /// - Throws: the last entry's ``TransportError`` when none could be used, its message listing every entry's
    ///   failure.
    public static func open(
        target: Endpoint,
        pac: ProxyAutoConfig,
        credentials: ProxyCredentials?,
        authScheme: ProxyAuthScheme,
        options: HTTPProxyOptions,
        deadline: Deadline,
        tls: TargetTLSOptions? = nil
    ) throws -> (transport: any Transport, note: String) {
        var failures: [String] = []
        let count = pac.entries.count
        for (index, entry) in pac.entries.enumerated() {
            let isLast = index == count - 1
            var entryDeadline = deadline
            if !isLast, let remaining = deadline.remaining {
                entryDeadline = min(deadline, Deadline.after(remaining / 2))
            }
            let label = "PAC entry \(index + 1) of \(count) \"\(entry)\""
            do {
                let transport: any Transport
                switch entry {
                case .direct:
                    let wraps = tls?.mode.wraps(throughProxy: false) ?? false
                    transport = try DirectTransport.open(target, deadline: entryDeadline, tls: wraps ? tls : nil)
                case .proxy(var proxy):
                    proxy.credentials = credentials
                    proxy.authScheme = authScheme
                    transport = try HTTPProxyTransport.open(
                        target: target,
                        proxy: proxy,
                        options: options,
                        deadline: entryDeadline,
                        tls: tls?.mode.wraps(throughProxy: true) ?? false ? tls : nil
                    )
                }
                let why = failures.isEmpty ? "the first entry" : failures.joined(separator: "; ")
                let note = "\(label) from \(pac.source) (\(why))"
                options.logger.debug("proxy auto-configuration", metadata: ["entry": "\(note)"])
                return (transport, note)
            } catch let error as TransportError where isUnreachable(error) && !isLast {
                failures.append("\(label) unreachable: \(error.message)")
                options.logger.debug("PAC entry unreachable, trying the next", metadata: ["entry": "\(entry)"])
            } catch var error as TransportError {
                if isUnreachable(error) {
                    failures.append("\(label) unreachable: \(error.message)")
                    error.message =
                        "no entry of the PAC answer \"\(pac.answer)\" from \(pac.source) for \(target) "
                        + "can be reached: " + failures.joined(separator: "; ")
                } else if !failures.isEmpty {
                    error.message += " (\(label); before it: \(failures.joined(separator: "; ")))"
                }
                throw error
            }
        }
        // ProxyAutoConfig never has an empty entry list.
        throw TransportError.configuration("the PAC answer from \(pac.source) has no entries")
    }

    private static func isUnreachable(_ error: TransportError) -> Bool {
        error.category == .proxyUnreachable || error.category == .serverUnreachable
            || (error.category == .timedOut && (error.stage == .proxyConnect || error.stage == .serverConnect))
    }
}

/// A route decided by a PAC script: its answer for the target plus the proxy credentials and scheme from the
/// flags or config file, which apply to whichever `PROXY` entry is used.
public struct ProxyAutoConfigRoute: Sendable, Hashable {
    public var pac: ProxyAutoConfig
    public var credentials: ProxyCredentials?
    public var authScheme: ProxyAuthScheme

    public init(pac: ProxyAutoConfig, credentials: ProxyCredentials? = nil, authScheme: ProxyAuthScheme = .any) {
        self.pac = pac
        self.credentials = credentials
        self.authScheme = authScheme
    }

    /// Opens the first reachable entry (``ProxyAutoConfigFailover``); `tls` decides per entry whether the
    /// connection to the server runs inside TLS (``TLSMode/wraps(throughProxy:)``).
    public func open(
        target: Endpoint,
        options: HTTPProxyOptions,
        deadline: Deadline,
        tls: TargetTLSOptions? = nil
    ) throws -> (transport: any Transport, note: String) {
        try ProxyAutoConfigFailover.open(
            target: target,
            pac: pac,
            credentials: credentials,
            authScheme: authScheme,
            options: options,
            deadline: deadline,
            tls: tls
        )
    }
}
