package import ArgumentParser
import FoundationEssentials
import Glibc
import TTBasics
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect setup [NAME]`: the login window, on a terminal. Asks for server, port, user and password, tries
/// the routes this machine offers, saves the chosen one as `[connection NAME]` (the password in a private file
/// beside the config file), proves it with a check, and says how to use it. `setup --remove NAME` deletes an
/// entry and the password files only it used.
package struct SetupCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Set up a named connection interactively: server, user, password and the route that works.",
        discussion: """
            Asks its questions on the terminal (/dev/tty); an existing NAME is edited, its values the defaults. \
            The password goes to NAME.password (mode 600) beside the config file, never into it. Without a \
            terminal, use tt-connect doctor --save-connection NAME (or check --save-connection NAME).
            """
    )

    @Option(
        help: ArgumentHelp(
            "Config file to write (default: ~/.config/tt-connect/config).",
            valueName: "FILE"
        )
    )
    package var config: String?

    @Flag(help: "Delete connection NAME and the password files no other connection uses.")
    package var remove = false

    @Option(help: ArgumentHelp("Deadline for trying each route, and for the final check.", valueName: "SECONDS"))
    package var timeout: Double = 10

    @Argument(help: ArgumentHelp("The connection to create or edit (asked for when not given).", valueName: "NAME"))
    package var name: String?

    package init() {}

    package func validate() throws {
        if let name, !ConnectionConfigWriter.isValidName(name) {
            throw ValidationError("a connection name is letters, digits and - _ . @ + (at most 64), not '\(name)'")
        }
        if remove, name == nil { throw ValidationError("--remove needs the NAME of the connection to delete") }
        guard timeout > 0, timeout <= 600 else {
            throw ValidationError("--timeout must be a number of seconds above 0 (and at most 600), not \(timeout)")
        }
    }

    package func run() throws {
        let path = config ?? ProxyOptions.defaultConfigPath
        if remove, let name {
            try Self.remove(name, from: path)
            return
        }
        guard let terminal = Terminal() else {
            throw CommandFailure.usage(
                "tt-connect setup asks its questions on a terminal, and this process has none; without one, use "
                    + "tt-connect doctor HOST[:PORT] --save-connection NAME (or tt-connect check -S USER@HOST:PORT "
                    + "--save-connection NAME, the password in TT_PASSWORD)"
            )
        }
        try SetupSession(terminal: terminal, configPath: path, timeout: timeout).run(name: name)
    }

    /// Deletes the entry and each password file that no remaining entry names.
    static func remove(_ name: String, from path: String) throws(CommandFailure) {
        let entry = try ConnectionConfigWriter.remove(name, from: path)
        let remaining: [ConnectionEntry]
        do {
            remaining = try ConnectionConfigFile(parsing: ConnectionConfigWriter.currentText(of: path), path: path)
                .entries
        } catch {
            throw .usage("\(error)")
        }
        let stillUsed = Set(remaining.flatMap { [$0.passwordFile, $0.proxyPasswordFile].compactMap { $0 } })
        var deleted: [String] = []
        for file in Set([entry.passwordFile, entry.proxyPasswordFile].compactMap({ $0 })).sorted()
        where !stillUsed.contains(file) && unlink(file) == 0 {
            deleted.append(file)
        }
        let files = deleted.isEmpty ? "" : "; deleted its password file\(deleted.count > 1 ? "s" : "") "
        Console.line("removed connection \(name) from \(path)\(files)\(deleted.joined(separator: ", "))")
    }
}

/// One run of `setup` on the terminal.
private struct SetupSession {
    let terminal: Terminal
    let configPath: String
    let timeout: Double

    /// How often a question is asked again after an unusable answer.
    static let attempts = 5

    /// A route to try: how to name it, and the entry holding it (proxy or PAC, or neither for direct).
    struct Candidate {
        var label: String
        var entry: ConnectionEntry
        var direct: Bool
        /// The route the connection had before: recommended when it still works.
        var configured: Bool
    }

    func run(name given: String?) throws(CommandFailure) {
        let text = try ConnectionConfigWriter.currentText(of: configPath)
        let file: ConnectionConfigFile
        do {
            file = try ConnectionConfigFile(parsing: text, path: configPath)
        } catch {
            throw .usage("\(error)")
        }
        terminal.say("tt-connect setup: a connection in \(configPath). Enter keeps the value in [brackets].\n")
        var name = given ?? ""
        if given == nil {
            name = try question("Connection name", default: "default") {
                ConnectionConfigWriter.isValidName($0) ? nil : "letters, digits and - _ . @ + only"
            }
        }
        let previous = file.entries.first { $0.name == name }
        if previous != nil { terminal.say("Editing connection \(name).\n") }
        let server = try question("Server", default: previous?.server) { answer in
            (try? Endpoint(parsing: answer, defaultPort: LogonString.defaultPort)) == nil
                ? "a host name or IP address" : nil
        }
        let portText = try question("Port", default: String(previous?.port ?? LogonString.defaultPort)) { answer in
            Int(answer).map { (1...65535).contains($0) } == true ? nil : "a port from 1 to 65535"
        }
        let user = try question("User", default: previous?.user) {
            $0.contains(":") ? "a user name without \":\"" : nil
        }
        let password = try askPassword(keeping: previous?.passwordFile)
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(parsing: server, defaultPort: Int(portText) ?? LogonString.defaultPort)
        } catch {
            throw .usage("server address: \(error)")
        }

        let candidates = try candidates(to: endpoint, previous: previous)
        terminal.say("Trying \(candidates.count) route\(candidates.count == 1 ? "" : "s") to \(endpoint):\n")
        var working: [(candidate: Candidate, plan: ConnectionPlan, outcome: CheckOutcome)] = []
        var failures: [CheckOutcome] = []
        for candidate in candidates {
            let plan = try plan(candidate, endpoint: endpoint, user: user, password: password, previous: previous)
            let outcome = CheckCommand.check(plan, printLines: false, started: .now)
            let time = "\(NumberText.fixed(outcome.elapsed.inMilliseconds, digits: 1)) ms"
            if outcome.ok {
                working.append((candidate, plan, outcome))
                terminal.say("  \(working.count)) ✓ \(candidate.label)  \(time)\n")
            } else {
                failures.append(outcome)
                terminal.say("     ✗ \(candidate.label): \(outcome.message) (exit \(outcome.exitCode))\n")
            }
        }
        guard !working.isEmpty else {
            // The failure that got furthest says most about what to fix.
            let furthest = failures.max { $0.stages.filter(\.ok).count < $1.stages.filter(\.ok).count }
            throw CommandFailure(
                exitCode: furthest?.exitCode ?? 1,
                message: "no route reached \(endpoint); nothing saved (\(furthest?.message ?? "no route to try"))"
            )
        }
        let recommended =
            working.firstIndex { $0.candidate.configured }
            ?? working.indices.min { working[$0].outcome.elapsed < working[$1].outcome.elapsed } ?? 0
        let choiceText = try question("Route to save", default: String(recommended + 1)) { answer in
            Int(answer).map { working.indices.contains($0 - 1) } == true ? nil : "a number from 1 to \(working.count)"
        }
        let chosen = working[(Int(choiceText) ?? recommended + 1) - 1]

        let seenKey = chosen.outcome.serverIdentity
        if let saved = previous?.serverKey, let seenKey, saved != seenKey {
            terminal.say("The server's key changed: saved \(saved), now \(seenKey).\n")
            let answer = try question("Trust the new key? (yes/no)", default: "no") {
                ["yes", "no"].contains($0.lowercased()) ? nil : "yes or no"
            }
            guard answer.lowercased() == "yes" else {
                throw CommandFailure(
                    exitCode: 10,
                    message: "the server's key is not the one saved for \(name); nothing changed"
                )
            }
        }
        let entry = try SavedConnection.entry(
            named: name,
            configuration: chosen.plan.configuration,
            serverKey: seenKey,
            previous: previous,
            configPath: configPath
        )
        try ConnectionConfigWriter.save(entry, to: configPath)
        terminal.say("Saved connection \(name) in \(configPath).\n")
        try prove(name)
    }

    /// Checks the saved entry as `tt-connect --connection NAME` would, with no environment to lean on.
    private func prove(_ name: String) throws(CommandFailure) {
        let selection = configPath == ProxyOptions.defaultConfigPath ? "" : "--config \(configPath) "
        let plan: ConnectionPlan
        do {
            plan = try ConnectionSetup.plan(
                target: nil,
                proxy: ProxyOptions.parse(["--config", configPath, "--connection", name]),
                server: ServerOptions.parse(["--timeout", String(timeout)]),
                verbose: false,
                reconnect: .never,
                tls: TLSOptions.parse([]),
                environment: [:]
            )
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(exitCode: 1, message: "internal error: \(error)")
        }
        terminal.say("Checking it: tt-connect \(selection)--connection \(name)\n")
        let outcome = CheckCommand.check(plan, printLines: true, started: .now)
        guard outcome.ok else {
            throw CommandFailure(
                exitCode: outcome.exitCode,
                message: "the saved connection \(name) failed its check: \(outcome.message)"
            )
        }
        Console.line(outcome.message)
        Console.line("Use it with:")
        Console.line("  tt-connect \(selection)--connection \(name)")
        Console.line("  tt-ping \(selection)--connection \(name)")
    }

    /// The routes to try, each once: the connection's own, the environment's proxy, and direct.
    private func candidates(to endpoint: Endpoint, previous: ConnectionEntry?) throws(CommandFailure) -> [Candidate] {
        var candidates: [Candidate] = []
        if let previous, previous.proxy != nil || previous.proxyPac != nil {
            var entry = ConnectionEntry(name: previous.name)
            entry.proxy = previous.proxy
            entry.proxyPac = previous.proxyPac
            entry.proxyAuth = previous.proxyAuth
            entry.proxyCredentials = previous.proxyCredentials
            if var credentials = entry.proxyCredentials, credentials.password.isEmpty,
                let file = previous.proxyPasswordFile
            {
                do {
                    credentials.password = try SecretFile.readPassword(file, what: "proxy password file")
                } catch {
                    throw .usage("\(error)")
                }
                entry.proxyCredentials = credentials
            }
            let route = previous.proxy.map { "proxy \($0.url)" } ?? "PAC \(previous.proxyPac ?? "")"
            candidates.append(Candidate(label: "\(route) (saved)", entry: entry, direct: false, configured: true))
        }
        let environment = ProcessInfo.processInfo.environment
        if let decision = try? ProxyConfiguration.resolve(
            target: endpoint,
            flags: ProxyFlags(),
            environment: environment
        ),
            let proxy = decision.proxy, let source = decision.source,
            !candidates.contains(where: { $0.entry.proxy?.url == proxy.url })
        {
            var entry = ConnectionEntry(name: "environment")
            entry.proxy = proxy
            candidates.append(
                Candidate(label: "proxy \(proxy.url) (from \(source))", entry: entry, direct: false, configured: false)
            )
        }
        candidates.append(
            Candidate(
                label: "direct",
                entry: ConnectionEntry(name: "direct"),
                direct: true,
                configured: previous != nil && candidates.allSatisfy { !$0.configured }
            )
        )
        return candidates
    }

    /// The client configuration for one candidate: its route, the login, any server key (pinned afterwards).
    private func plan(
        _ candidate: Candidate,
        endpoint: Endpoint,
        user: String,
        password: String,
        previous: ConnectionEntry?
    ) throws(CommandFailure) -> ConnectionPlan {
        let decision: ProxyDecision
        do {
            decision = try ProxyConfiguration.resolve(
                target: endpoint,
                flags: ProxyFlags(noProxy: candidate.direct),
                entry: candidate.entry,
                configPath: configPath,
                environment: [:]
            )
        } catch {
            throw .usage("\(candidate.label): \(error)")
        }
        let route: Route
        if let pac = decision.autoConfig {
            route = .autoConfigured(pac, HTTPProxyOptions())
        } else if let proxy = decision.proxy {
            route = .proxy(proxy, HTTPProxyOptions())
        } else {
            route = .direct
        }
        let deadline = Duration.nanoseconds(Int64((timeout * 1e9).rounded()))
        let configuration = ClientConfiguration(
            server: endpoint,
            route: route,
            credentials: Credentials(user: user, password: password),
            identity: .acceptAny,
            connectTimeout: deadline,
            requestTimeout: deadline,
            reconnect: .never,
            tls: TargetTLSOptions(mode: previous?.tls ?? .auto)
        )
        return ConnectionPlan(
            configuration: configuration,
            routeReason: candidate.label,
            origin: RouteOrigin(source: candidate.label, offersDoctor: false)
        )
    }

    /// Asks `label`, offering `default`; `problem` says what is wrong with an answer, `nil` when it is usable.
    private func question(
        _ label: String,
        default defaultValue: String?,
        problem: (String) -> String?
    ) throws(CommandFailure) -> String {
        for _ in 0..<Self.attempts {
            let offer = defaultValue.map { " [\($0)]" } ?? ""
            guard let line = terminal.ask("\(label)\(offer): ") else {
                throw .usage("setup stopped: no answer to \"\(label)\"; nothing saved")
            }
            let answer = String(line.trimmingWhitespace())
            let value = answer.isEmpty ? (defaultValue ?? "") : answer
            guard !value.isEmpty else {
                terminal.say("An answer is needed.\n")
                continue
            }
            if let problem = problem(value) {
                terminal.say("Expected \(problem).\n")
                continue
            }
            return value
        }
        throw .usage("setup stopped: no usable answer to \"\(label)\" after \(Self.attempts) tries; nothing saved")
    }

    /// The password: Enter keeps the one in `keeping` (when readable); a new one is asked twice.
    private func askPassword(keeping file: String?) throws(CommandFailure) -> String {
        if let file, let saved = try? SecretFile.readPassword(file, what: "password file") {
            guard let answer = terminal.ask("Password (Enter keeps the saved one): ", echo: false) else {
                throw .usage("setup stopped: no password entered; nothing saved")
            }
            return answer.isEmpty ? saved : answer
        }
        for _ in 0..<Self.attempts {
            guard let first = terminal.ask("Password: ", echo: false),
                let second = first.isEmpty ? "" : terminal.ask("Password again: ", echo: false)
            else {
                throw .usage("setup stopped: no password entered; nothing saved")
            }
            if first.isEmpty {
                terminal.say("A password is needed.\n")
            } else if first != second {
                terminal.say("The two passwords differ; once more.\n")
            } else {
                return first
            }
        }
        throw .usage("setup stopped: no matching password after \(Self.attempts) tries; nothing saved")
    }
}
