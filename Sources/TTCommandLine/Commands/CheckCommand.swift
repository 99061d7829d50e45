public import ArgumentParser
import TTClient
import TTCommandSupport
import TTProtocol
import TTTransport

/// `tt-connect [check]`: reach the server stage by stage, print each stage as it completes, exit with the code
/// of the first failure.
public struct CheckCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
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

    @OptionGroup public var proxy: ProxyOptions
    @OptionGroup public var server: ServerOptions
    @OptionGroup public var tls: TLSOptions
    @OptionGroup public var output: OutputOptions

    @Option(
        help: ArgumentHelp(
            "When the check succeeds, write its route as [connection NAME] in the config file (--config, default "
                + "~/.config/tt-connect/config): server, proxy, user, the server key seen; passwords go to files "
                + "beside it, never into it.",
            valueName: "NAME"
        )
    )
    public var saveConnection: String?

    @Argument(
        help: ArgumentHelp(
            "The framework server (default: from -S, the config file, or localhost:5000).",
            valueName: "HOST[:PORT]"
        )
    )
    public var target: String?

    public init() {}

    public func validate() throws {
        if let saveConnection, !ConnectionConfigWriter.isValidName(saveConnection) {
            throw ValidationError(
                "--save-connection needs a name of letters, digits and - _ . @ + (at most 64), not '\(saveConnection)'"
            )
        }
    }

    public func run() throws {
        let started = ContinuousClock.now
        let plan: ConnectionPlan
        do {
            plan = try ConnectionSetup.plan(
                target: target,
                proxy: proxy,
                server: server,
                verbose: output.verbose,
                verbosity: output.verbosity,
                reconnect: .never,
                tls: tls,
                savesConnection: saveConnection != nil
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
                        server: target ?? "",
                        proxy: nil,
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
        if outcome.ok, let saveConnection {
            try SavedConnection.save(
                named: saveConnection,
                configuration: plan.configuration,
                serverKey: outcome.serverIdentity,
                configPath: proxy.config ?? ProxyOptions.defaultConfigPath,
                quiet: output.json
            )
        }
        if !outcome.ok {
            if let hint = TypoHint.hint(forTarget: target) { Console.error("tt-connect: \(hint)") }
            throw ExitCode(outcome.exitCode)
        }
    }

    /// Runs the stages with a fresh client, released before returning (its deinit writes `TMSS10API_Term`).
    static func check(_ plan: ConnectionPlan, printLines: Bool, started: ContinuousClock.Instant) -> CheckOutcome {
        let progress = CheckProgress(printLines: printLines)
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
        if let failure {
            progress.record(stageName(failure.stage), ok: false, detail: failure.commandLineMessage)
        }
        let configuration = plan.configuration
        var proxyURL: String?
        if case .proxy(let proxy, _) = configuration.route { proxyURL = proxy.url }
        let via = proxyURL.map { " through proxy \($0)" } ?? ""
        return CheckOutcome(
            ok: failure == nil,
            stage: failure.map { stageName($0.stage) },
            exitCode: failure?.category.exitCode ?? 0,
            message: failure?.commandLineMessage ?? "framework server \(configuration.server) is reachable\(via)",
            proxyStatus: client.report?.proxyStatus ?? failure?.proxyStatus,
            elapsed: .now - started,
            stages: progress.stages,
            serverIdentity: client.serverIdentity?.fingerprint.description,
            server: configuration.server.description,
            proxy: proxyURL,
            route: plan.routeReason,
            tls: client.report?.tls
        )
    }

    /// `check`'s only request is the ping, so the request stage is printed as `ping`.
    static func stageName(_ stage: ClientStage) -> String {
        stage == .request ? "ping" : stage.description
    }
}
