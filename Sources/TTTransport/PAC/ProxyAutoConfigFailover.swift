import Logging
import Synchronization

/// Opens a transport through the entries of a PAC answer in order, passing over the ones that cannot be reached,
/// as browsers do with `PROXY a:3128; PROXY b:8080; DIRECT`.
///
/// An unreachable entry (name does not resolve, connection refused, no answer to the TCP connect) and one that
/// accepts the connection but does not answer the CONNECT in its share of the deadline move on to the next: a
/// proxy that answers and refuses (407, 403…) has decided, and hiding that behind the next entry would hide a
/// wrong password. Each entry but the last gets at most half the remaining time, so one proxy that swallows SYNs
/// or CONNECTs cannot use up the deadline of those after it. An entry that failed so is tried after the others
/// for the next ``failureMemory`` (in this process: a reconnect), as browsers do.
public enum ProxyAutoConfigFailover {
    /// Opens the first reachable entry of `pac` for `target`.
    /// - Parameters:
    ///   - credentials, authScheme, forbidsBasicInClear: applied to every `PROXY` entry (``HTTPProxy``).
    /// - Returns: the transport and a note for `check` and `-v`: which entry was used and why.
    /// - Throws: the last entry's ``TransportError`` when none could be used, its message listing every entry's
    ///   failure.
    public static func open(
        target: Endpoint,
        pac: ProxyAutoConfig,
        credentials: ProxyCredentials?,
        authScheme: ProxyAuthScheme,
        forbidsBasicInClear: Bool = false,
        options: HTTPProxyOptions,
        deadline: Deadline,
        tls: TargetTLSOptions? = nil,
        interrupter: ConnectionInterrupter? = nil
    ) throws -> (transport: any Transport, note: String) {
        var failures: [String] = []
        let count = pac.entries.count
        let order = triedOrder(pac.entries)
        for (position, index) in order.enumerated() {
            let entry = pac.entries[index]
            let isLast = position == count - 1
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
                    transport = try DirectTransport.open(
                        target,
                        deadline: entryDeadline,
                        tls: wraps ? tls : nil,
                        interrupter: interrupter
                    )
                case .proxy(var proxy):
                    proxy.credentials = credentials
                    proxy.authScheme = authScheme
                    proxy.forbidsBasicInClear = forbidsBasicInClear
                    transport = try HTTPProxyTransport.open(
                        target: target,
                        proxy: proxy,
                        options: options,
                        deadline: entryDeadline,
                        tls: tls?.mode.wraps(throughProxy: true) ?? false ? tls : nil,
                        interrupter: interrupter
                    )
                }
                recentFailures.withLock { _ = $0.removeValue(forKey: entry) }
                let why =
                    failures.isEmpty
                    ? (position == 0 ? "the first entry" : "the entries before it failed within the last 5 minutes")
                    : failures.joined(separator: "; ")
                let note = "\(label) from \(pac.source) (\(why))"
                options.logger.debug("proxy auto-configuration", metadata: ["entry": "\(note)"])
                return (transport, note)
            } catch let error as TransportError where interrupter?.isInterrupted ?? false {
                // Stopped by the caller: the entry did not fail, and no later one is to be tried.
                throw error
            } catch let error as TransportError where isUnreachable(error) && !isLast {
                failures.append(failure(label, error))
                recentFailures.withLock { $0[entry] = .now }
                options.logger.debug("PAC entry failed, trying the next", metadata: ["entry": "\(entry)"])
            } catch var error as TransportError {
                if isUnreachable(error) {
                    recentFailures.withLock { $0[entry] = .now }
                    failures.append(failure(label, error))
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

    /// How long an entry that could not be used is tried after the others.
    public static let failureMemory = Duration.seconds(300)

    /// Entries that could not be used, and when: shared by every open in the process.
    private static let recentFailures = Mutex<[ProxyAutoConfigEntry: ContinuousClock.Instant]>([:])

    /// The indices of `entries` in the order to try them: the script's, with entries that failed within
    /// ``failureMemory`` moved after the others (keeping their order).
    static func triedOrder(_ entries: [ProxyAutoConfigEntry]) -> [Int] {
        let now = ContinuousClock.now
        let failed = recentFailures.withLock { failures in
            failures = failures.filter { now - $0.value < failureMemory }
            return Set(failures.keys)
        }
        let fresh = entries.indices.filter { !failed.contains(entries[$0]) }
        return fresh + entries.indices.filter { failed.contains(entries[$0]) }
    }

    /// Whether to move on to the next entry: this one cannot be reached, or accepted the connection and did not
    /// answer the CONNECT in its share of the deadline.
    private static func isUnreachable(_ error: TransportError) -> Bool {
        error.category == .proxyUnreachable || error.category == .serverUnreachable
            || (error.category == .timedOut
                && (error.stage == .proxyConnect || error.stage == .serverConnect || error.stage == .proxyTunnel))
    }

    /// What the note and the final message say of a failed entry.
    private static func failure(_ label: String, _ error: TransportError) -> String {
        if error.category == .timedOut, error.stage == .proxyTunnel {
            return "\(label) accepted the connection but did not answer the CONNECT in its share of the deadline, "
                + "so the next entry was tried, as browsers do: \(error.message)"
        }
        return "\(label) unreachable: \(error.message)"
    }
}

/// A route decided by a PAC script: its answer for the target plus the proxy credentials and scheme from the
/// flags or config file, which apply to whichever `PROXY` entry is used.
public struct ProxyAutoConfigRoute: Sendable, Hashable {
    public var pac: ProxyAutoConfig
    public var credentials: ProxyCredentials?
    public var authScheme: ProxyAuthScheme
    /// ``HTTPProxy/forbidsBasicInClear`` for every `PROXY` entry.
    public var forbidsBasicInClear: Bool

    public init(
        pac: ProxyAutoConfig,
        credentials: ProxyCredentials? = nil,
        authScheme: ProxyAuthScheme = .any,
        forbidsBasicInClear: Bool = false
    ) {
        self.pac = pac
        self.credentials = credentials
        self.authScheme = authScheme
        self.forbidsBasicInClear = forbidsBasicInClear
    }

    /// Opens the first reachable entry (``ProxyAutoConfigFailover``); `tls` decides per entry whether the
    /// connection to the server runs inside TLS (``TLSMode/wraps(throughProxy:)``); `interrupter` stops it from
    /// another thread.
    public func open(
        target: Endpoint,
        options: HTTPProxyOptions,
        deadline: Deadline,
        tls: TargetTLSOptions? = nil,
        interrupter: ConnectionInterrupter? = nil
    ) throws -> (transport: any Transport, note: String) {
        try ProxyAutoConfigFailover.open(
            target: target,
            pac: pac,
            credentials: credentials,
            authScheme: authScheme,
            forbidsBasicInClear: forbidsBasicInClear,
            options: options,
            deadline: deadline,
            tls: tls,
            interrupter: interrupter
        )
    }
}
