import Dispatch
import FoundationEssentials
import Synchronization
import TTBasics
import TTTransport

/// Finds every candidate route to a server: the command line, the connection's config entry, the environment,
/// the desktop's and the system's published settings (``SystemProxySettings``), each entry of every PAC answer
/// found among them, and direct. Candidates naming the same proxy are merged, keeping every source.
enum RouteDiscovery {
    /// What the command line and config file say, besides the machine's settings.
    struct Explicit: Sendable {
        var proxy: String?
        var proxyPac: String?
        var noProxy = false
        var entry: ConnectionEntry?
        var configPath: String?
    }

    /// The candidates for `target`, in the order of their sources, direct last.
    /// - Parameter deadline: bounds fetching and evaluating the PAC scripts found (each gets the time until it).
    static func candidates(
        target: Endpoint,
        explicit: Explicit,
        settings: [FoundProxySetting],
        environment: [String: String],
        deadline: Deadline
    ) -> [RouteCandidate] {
        var found: [(setting: FoundProxySetting, configured: Bool)] = []
        if let proxy = explicit.proxy {
            found.append((FoundProxySetting(value: .proxy(proxy), source: "command line (--proxy)"), false))
        }
        if let pac = explicit.proxyPac {
            found.append((FoundProxySetting(value: .pac(pac), source: "command line (--proxy-pac)"), false))
        }
        if let entry = explicit.entry {
            let source = "config file \(explicit.configPath ?? "") [connection \(entry.name)]"
            if let proxy = entry.proxy {
                found.append((FoundProxySetting(value: .proxy(proxy.url), source: source), false))
            }
            if let pac = entry.proxyPac {
                found.append((FoundProxySetting(value: .pac(pac), source: source + " proxy-pac"), false))
            }
        }
        let explicitCount = found.count
        found += settings.map { ($0, false) }
        // The route check would take: the first explicit setting, else the first environment variable it reads
        // (unless NO_PROXY or the loopback rule sends the target direct), else direct.
        var directConfigured = explicit.noProxy
        if !explicit.noProxy {
            if explicitCount > 0 {
                found[0].configured = true
            } else if let first = found.indices.first(where: {
                ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"].contains(found[$0].setting.source)
            }) {
                let noProxy = environment["NO_PROXY"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["no_proxy"] ?? ""
                if NoProxyMatcher(noProxy).usesProxy(host: target.host, port: target.port) {
                    found[first].configured = true
                } else {
                    directConfigured = true
                }
            } else {
                directConfigured = true
            }
        }

        let pacAnswers = evaluatePACs(found.map(\.setting), target: target, deadline: deadline)
        var candidates: [RouteCandidate] = []
        for (setting, configured) in found {
            switch setting.value {
            case .proxy(let text):
                do {
                    let proxy = try HTTPProxy(parsing: text)
                    candidates.append(
                        RouteCandidate(way: .proxy(proxy), sources: [setting.source], isConfigured: configured)
                    )
                } catch {
                    candidates.append(
                        RouteCandidate(
                            way: .unusable(
                                exitCode: 2,
                                stage: "options",
                                message: "\(setting.source): \(error.message)"
                            ),
                            sources: [setting.source]
                        )
                    )
                }
            case .pac(let location):
                // Messages show the location without a URL's password.
                let shown = ProxyAutoConfig.redacted(location: location)
                switch pacAnswers[location] {
                case .success(let pac)?:
                    for (index, entry) in pac.entries.enumerated() {
                        let label = "PAC entry \(index + 1) of \(pac.entries.count) from \(setting.source) \(shown)"
                        let way: RouteCandidate.Way
                        switch entry {
                        case .direct: way = .direct
                        case .proxy(let proxy): way = .proxy(proxy)
                        }
                        candidates.append(
                            RouteCandidate(way: way, sources: [label], pacEntry: label, isConfigured: configured)
                        )
                    }
                case .failure(let error)?:
                    // An unreachable or failing PAC URL is a network failure (exit 3); a script that does not
                    // evaluate, or answers nothing usable, is a configuration error (2).
                    let code: Int32 = error.category == .configuration ? 2 : 3
                    candidates.append(
                        RouteCandidate(
                            way: .unusable(exitCode: code, stage: "pac", message: error.message),
                            sources: ["PAC \(shown) from \(setting.source)"],
                            isConfigured: configured
                        )
                    )
                case nil:
                    candidates.append(
                        RouteCandidate(
                            way: .unusable(
                                exitCode: 12,
                                stage: "pac",
                                message: "the PAC \(shown) was not fetched and evaluated before the deadline"
                            ),
                            sources: ["PAC \(shown) from \(setting.source)"],
                            isConfigured: configured
                        )
                    )
                }
            }
        }
        candidates.append(
            RouteCandidate(way: .direct, sources: ["direct (always tried)"], isConfigured: directConfigured)
        )
        return merged(candidates)
    }

    /// Candidates with the same ``RouteCandidate/key`` as one, with the sources of all, in first-seen order.
    static func merged(_ candidates: [RouteCandidate]) -> [RouteCandidate] {
        var result: [RouteCandidate] = []
        var index: [String: Int] = [:]
        for candidate in candidates {
            guard let at = index[candidate.key] else {
                index[candidate.key] = result.count
                result.append(candidate)
                continue
            }
            for source in candidate.sources where !result[at].sources.contains(source) {
                result[at].sources.append(source)
            }
            result[at].pacEntry = result[at].pacEntry ?? candidate.pacEntry
            result[at].isConfigured = result[at].isConfigured || candidate.isConfigured
            // The first candidate's credentials stay; a later one may bring some when the first had none.
            if case .proxy(var first) = result[at].way, first.credentials == nil,
                case .proxy(let later) = candidate.way, let credentials = later.credentials
            {
                first.credentials = credentials
                result[at].way = .proxy(first)
            }
        }
        return result
    }

    /// Every distinct PAC location among `settings`, fetched and evaluated at once (each on its own thread),
    /// waiting no longer than `deadline`: a location missing from the answer did not finish in time.
    private static func evaluatePACs(
        _ settings: [FoundProxySetting],
        target: Endpoint,
        deadline: Deadline
    ) -> [String: Result<ProxyAutoConfig, TransportError>] {
        var locations: [String] = []
        for setting in settings {
            if case .pac(let location) = setting.value, !locations.contains(location) { locations.append(location) }
        }
        let answers = Mutex<[String: Result<ProxyAutoConfig, TransportError>]>([:])
        let group = DispatchGroup()
        for location in locations {
            group.enter()
            Doctor.detach {
                let result: Result<ProxyAutoConfig, TransportError>
                do {
                    result = .success(
                        try ProxyAutoConfig.resolve(location: location, target: target, deadline: deadline)
                    )
                } catch let error as TransportError {
                    result = .failure(error)
                } catch {
                    result = .failure(
                        TransportError.configuration(
                            "PAC file \(ProxyAutoConfig.redacted(location: location)): \(error)"
                        )
                    )
                }
                answers.withLock { $0[location] = result }
                group.leave()
            }
        }
        let seconds = (deadline.remaining ?? .seconds(10)).inMilliseconds / 1000
        _ = group.wait(timeout: .now() + max(0, seconds))
        return answers.withLock { $0 }
    }
}
