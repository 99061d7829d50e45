package import ArgumentParser
import FoundationEssentials
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect doctor`: finds every route the machine offers to the server, tries them all at once within one
/// deadline, and recommends the one to use.
package struct DoctorCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Try every route to the server at once (flags, config, environment, desktop, PAC, direct).",
        discussion: """
            Finds the candidate routes: the command line, the connection's config entry, HTTPS_PROXY, ALL_PROXY \
            and HTTP_PROXY (and their lowercase forms), GNOME (gsettings), KDE (kioslaverc), Firefox (prefs.js), \
            Chromium and Chrome policies, /etc/environment, apt and git; each entry of every PAC they name; \
            direct. Tries them concurrently within --timeout (overall, default 10 s) and prints one row per \
            route (✓/✗, proxy, stage reached, time, reason and exit code, sources), then the recommended route \
            with the flags and config entry that select it. Exits 0 when any route works, else with the code of \
            the route that got furthest. docs/CONFIG.md lists where each setting is read from.
            """
    )

    @OptionGroup package var proxy: ProxyOptions
    @OptionGroup package var server: ServerOptions
    @OptionGroup package var tls: TLSOptions
    @OptionGroup package var output: OutputOptions

    @OptionGroup package var saving: SaveConnectionOptions<DoctorCommand>

    package init() {}

    package func run() throws {
        let timeout = Duration.nanoseconds(Int64((server.timeout * 1e9).rounded()))
        let deadline = Deadline.after(timeout)
        let environment = ProcessInfo.processInfo.environment
        let (candidates, setup) = try Self.prepare(
            target: saving.target,
            proxy: proxy,
            server: server,
            tls: tls,
            verbosity: output.verbosity,
            environment: environment,
            deadline: deadline,
            savesConnection: saving.saveConnection != nil
        )
        let report = DoctorReport(live: !output.json && DoctorReport.standardOutputIsTerminal)
        var progress: (@Sendable ([RouteOutcome]) -> Void)?
        if !output.json { progress = { report.show($0) } }
        let outcomes = Doctor.run(candidates: candidates, setup: setup, deadline: deadline, progress: progress)
        let serverEndpoint = setup.base.configuration.server
        if output.json {
            Console.line(DoctorReport.json(outcomes, server: serverEndpoint, connection: proxy.connection))
        } else {
            for line in DoctorReport.recommendation(outcomes, server: serverEndpoint, connection: proxy.connection) {
                Console.line(line)
            }
        }
        if let saveConnection = saving.saveConnection {
            if let recommended = RouteOutcome.recommended(outcomes) {
                try SavedConnection.save(
                    named: saveConnection,
                    configuration: Doctor.plan(for: recommended.candidate, setup: setup, timeout: timeout)
                        .configuration,
                    serverKey: recommended.serverIdentity,
                    configPath: proxy.config ?? ProxyOptions.defaultConfigPath,
                    quiet: output.json
                )
            } else {
                Console.error("tt-connect: no route works, so connection \(saveConnection) was not saved")
            }
        }
        let code = RouteOutcome.exitCode(outcomes)
        if code != 0 { throw ExitCode(code) }
    }

    /// The candidates for the target and what their checks share, from `check`'s options and the machine's
    /// settings (read within a share of `deadline`). `setup` calls this too, without server options: it asks
    /// for the login itself and checks the key it sees against the entry's.
    /// - Throws: ``CommandFailure`` (usage) for bad options, an unreadable config file or password file.
    static func prepare(
        target: String?,
        proxy: ProxyOptions,
        server: ServerOptions?,
        tls: TLSOptions,
        verbosity: Int,
        environment: [String: String],
        deadline: Deadline,
        savesConnection: Bool = false
    ) throws(CommandFailure) -> (candidates: [RouteCandidate], setup: DoctorSetup) {
        // The plan without a route: the doctor decides the routes itself.
        var routeless = proxy
        routeless.proxy = nil
        routeless.proxyPac = nil
        routeless.noProxy = true
        routeless.noProxyList = nil
        let base = try ConnectionSetup.plan(
            target: target,
            proxy: routeless,
            server: server,
            verbose: verbosity > 0,
            verbosity: verbosity,
            reconnect: .never,
            tls: tls,
            environment: environment,
            savesConnection: savesConnection
        )
        let entry = try proxy.loadEntry()
        var credentials = proxy.proxyUser.map(ProxyCredentials.init(parsing:)) ?? entry?.entry.proxyCredentials
        if let given = credentials {
            credentials = try ProxyPasswordSource.fill(
                given,
                flagUser: proxy.proxyUser,
                entry: entry?.entry,
                environment: environment
            )
        }
        let logger = verbosity > 0 ? ConnectionSetup.verboseLogger() : nil
        let setup = DoctorSetup(
            base: base,
            proxyOptions: proxy.httpOptions(logger: logger, verbosity: verbosity),
            proxyCredentials: credentials,
            proxyAuth: proxy.authScheme ?? entry?.entry.proxyAuth
        )
        let remaining = deadline.remaining ?? .seconds(10)
        let settings = SystemProxySettings.all(
            ProxySettingLocations(environment: environment),
            toolTimeout: min(.seconds(2), remaining / 5)
        )
        // Fetching PAC scripts may take at most half the time left, the checks need the rest.
        let pacDeadline = min(deadline, Deadline.after((deadline.remaining ?? remaining) / 2))
        let candidates = RouteDiscovery.candidates(
            target: base.configuration.server,
            explicit: RouteDiscovery.Explicit(
                proxy: proxy.proxy,
                proxyPac: proxy.proxyPac,
                noProxy: proxy.noProxy,
                entry: entry?.entry,
                configPath: entry?.path
            ),
            settings: settings,
            environment: environment,
            deadline: pacDeadline
        )
        return (candidates, setup)
    }
}

extension DoctorCommand: SavedRouteWording {
    package static var savedRoute: String { "Write the recommended route" }
}
