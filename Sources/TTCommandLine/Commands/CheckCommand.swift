package import ArgumentParser
import TTClient
import TTCommandSupport
import TTProtocol
import TTTransport

/// `tt-connect [check]`: reach the server stage by stage, print each stage as it completes, exit with the code
/// of the first failure.
package struct CheckCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Connect (through the proxy, if any), handshake, log in (with -S) and ping, stage by stage.",
        discussion: """
            Prints one line per stage as it completes (✓/✗, time, detail) and exits with the code of the first \
            failure: 0 ok, 1 internal, 2 usage, 3 proxy unreachable, 4 proxy authentication, 5 proxy refused \
            the tunnel, 6 proxy could not reach the server, 7 invalid proxy answer, 8 server unreachable, \
            9 not a framework server, 10 server identity mismatch, 11 login rejected, 12 timed out, \
            13 the proxy inspects the tunnel and blocked it, 14 server busy, 15 connection lost after the \
            request was sent (it may have run).
            """
    )

    @OptionGroup package var proxy: ProxyOptions
    @OptionGroup package var server: ServerOptions
    @OptionGroup package var tls: TLSOptions
    @OptionGroup package var output: OutputOptions

    @OptionGroup package var saving: SaveConnectionOptions<CheckCommand>

    package init() {}

    package func run() throws {
        let started = ContinuousClock.now
        let plan: ConnectionPlan
        do {
            plan = try ConnectionSetup.plan(
                target: saving.target,
                proxy: proxy,
                server: server,
                verbose: output.verbose,
                verbosity: output.verbosity,
                reconnect: .never,
                tls: tls,
                savesConnection: saving.saveConnection != nil
            )
        } catch {
            if output.json {
                Console.line(
                    CheckOutcome(
                        ok: false,
                        stage: "options",
                        exitCode: error.exitCode,
                        message: error.message,
                        proxyStatus: nil,
                        elapsed: .now - started,
                        stages: [],
                        serverIdentity: nil,
                        server: saving.target ?? "",
                        proxy: nil,
                        pacEntry: nil,
                        route: ""
                    ).json
                )
                throw ExitCode(error.exitCode)
            }
            throw error
        }
        if output.verbose { Console.error(plan.routeReason) }
        let outcome = Self.check(plan, printLines: !output.json, started: started)
        if output.json {
            Console.line(outcome.json)
        } else if outcome.ok {
            Console.line(outcome.message)
            if let note = outcome.note { Console.line("note: \(note)") }
        }
        if outcome.ok, let saveConnection = saving.saveConnection {
            try SavedConnection.save(
                named: saveConnection,
                configuration: plan.configuration,
                serverKey: outcome.serverIdentity,
                configPath: proxy.config ?? ProxyOptions.defaultConfigPath,
                quiet: output.json
            )
        }
        if !outcome.ok {
            if let hint = TypoHint.hint(forTarget: saving.target) { Console.error("tt-connect: \(hint)") }
            throw ExitCode(outcome.exitCode)
        }
    }

    /// Runs the stages with a fresh client, released before returning (its deinit writes `TMSS10API_Term`).
    /// - Parameter progress: records the stages as they complete (the doctor watches it); a new one by default.
    static func check(
        _ plan: ConnectionPlan,
        printLines: Bool,
        started: ContinuousClock.Instant,
        progress: CheckProgress? = nil
    ) -> CheckOutcome {
        let progress = progress ?? CheckProgress(printLines: printLines)
        let client = FrameworkClient(configuration: plan.configuration) { event in
            if case .stageCompleted(let stage, let duration, let detail) = event {
                progress.record(stage.description, ok: true, duration: duration, detail: detail)
            }
        }
        var failure: FrameworkClientError?
        do {
            try client.connect()
            let pingStarted = ContinuousClock.now
            let response = try client.ping()
            let elapsed = ContinuousClock.now - pingStarted
            if response.rc == .requestOK {
                progress.record(
                    "ping",
                    ok: true,
                    duration: elapsed,
                    detail: "RC(\(response.rc)) \(client.lastExchangeSize.received) bytes"
                )
            } else {
                failure = FrameworkClientError(
                    stage: .request,
                    category: .internalError,
                    message: "the server answered the ping with RC(\(response.rc))"
                )
            }
        } catch {
            failure = error
        }
        let failureMessage = failure.map { plan.origin.named($0.commandLineMessage) }
        if let failure, let failureMessage {
            progress.record(stageName(failure.stage), ok: false, detail: failureMessage)
        }
        let configuration = plan.configuration
        let used = usedRoute(plan, report: client.report)
        let via = used.proxy.map { " through proxy \($0)" } ?? ""
        let named = (used.pacEntry ?? plan.origin.source).map { " (from \($0))" } ?? ""
        return CheckOutcome(
            ok: failure == nil,
            stage: failure.map { stageName($0.stage) },
            exitCode: failure?.category.exitCode ?? 0,
            message: failureMessage ?? "framework server \(configuration.server) is reachable\(via)\(named)",
            proxyStatus: client.report?.proxyStatus ?? failure?.proxyStatus,
            elapsed: .now - started,
            stages: progress.stages,
            serverIdentity: client.serverIdentity?.fingerprint.description,
            server: configuration.server.description,
            proxy: used.proxy,
            pacEntry: used.pacEntry,
            route: plan.routeReason,
            tls: client.report?.tls ?? failure?.tls
        )
    }

    /// The proxy the check went through (for a PAC route, the entry the transport opened) and, for a PAC route,
    /// "PAC entry n of m from LOCATION".
    static func usedRoute(_ plan: ConnectionPlan, report: ConnectionReport?) -> (proxy: String?, pacEntry: String?) {
        switch plan.configuration.route {
        case .direct:
            return (nil, nil)
        case .proxy(let configured, _):
            return (configured.url, nil)
        case .autoConfigured(let route, _):
            // Without a report no entry was opened: which one failed is in the message.
            guard let report else { return (nil, nil) }
            let proxy = report.proxy
            let entries = route.pac.entries
            let index = entries.firstIndex { entry in
                switch entry {
                case .direct: proxy == nil
                case .proxy(let candidate): candidate.endpoint == proxy
                }
            }
            guard let index else { return (nil, nil) }
            var url: String?
            if case .proxy(let candidate) = entries[index] { url = candidate.url }
            let source = plan.origin.source.map { " (\($0))" } ?? ""
            return (url, "PAC entry \(index + 1) of \(entries.count) from \(route.pac.source)\(source)")
        }
    }

    /// `check`'s only request is the ping, so the request stage is printed as `ping`.
    static func stageName(_ stage: ClientStage) -> String {
        stage == .request ? "ping" : stage.description
    }
}

extension CheckCommand: SavedRouteWording {
    package static var savedRoute: String { "When the check succeeds, write its route" }
}
