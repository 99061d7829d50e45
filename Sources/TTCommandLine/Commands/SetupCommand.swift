package import ArgumentParser
import FoundationEssentials
import Glibc
import TTBasics
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect setup [NAME]`: the login window, on a terminal. Asks for server, port, user and password, runs
/// the doctor over the routes this machine offers, saves the chosen one as `[connection NAME]` (the password in a private file
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

    @Option(
        help: ArgumentHelp(
            "Deadline for trying the routes (all at once, as doctor does), and for the final check.",
            valueName: "SECONDS"
        )
    )
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

        let chosen = try chooseRoute(to: endpoint, name: name, previous: previous, user: user, password: password)

        let seenKey = chosen.serverIdentity
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
        var entry = try SavedConnection.entry(
            named: name,
            configuration: chosen.configuration,
            serverKey: seenKey,
            previous: previous,
            configPath: configPath
        )
        // An entry of the connection's own PAC was chosen: the PAC stays, so its answer may change later.
        if chosen.fromOwnPAC, let pac = previous?.proxyPac {
            entry.proxy = nil
            entry.proxyPac = pac
        }
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

    /// Runs the doctor over every route this machine offers (the entry's own first, when editing), shows its
    /// rows live, offers the routes that work as a numbered choice (the doctor's recommendation the default)
    /// and returns the chosen route's client configuration with the server key seen on it, and whether it is
    /// an entry of the connection's own PAC.
    private func chooseRoute(
        to endpoint: Endpoint,
        name: String,
        previous: ConnectionEntry?,
        user: String,
        password: String
    ) throws(CommandFailure) -> (configuration: ClientConfiguration, serverIdentity: String?, fromOwnPAC: Bool) {
        let duration = Duration.nanoseconds(Int64((timeout * 1e9).rounded()))
        let deadline = Deadline.after(duration)
        var arguments = ["--config", configPath]
        if previous != nil { arguments += ["--connection", name] }
        let options: ProxyOptions
        let tls: TLSOptions
        do {
            options = try ProxyOptions.parse(arguments)
            tls = try TLSOptions.parse([])
        } catch {
            throw CommandFailure(exitCode: 1, message: "internal error: \(error)")
        }
        // No server options: the login is the one just asked for, and the key is checked below, not pinned.
        var (candidates, setup) = try DoctorCommand.prepare(
            target: endpoint.description,
            proxy: options,
            server: nil,
            tls: tls,
            verbosity: 0,
            environment: ProcessInfo.processInfo.environment,
            deadline: deadline,
            savesConnection: true
        )
        setup.base.configuration.credentials = Credentials(user: user, password: password)
        terminal.say(
            "Trying \(candidates.count) route\(candidates.count == 1 ? "" : "s") to \(endpoint) at once "
                + "(tt-connect doctor):\n"
        )
        let report = DoctorReport(live: true, descriptor: terminal.descriptor)
        let outcomes = Doctor.run(candidates: candidates, setup: setup, deadline: deadline) { report.show($0) }
        let working = outcomes.filter(\.ok)
        guard let recommended = RouteOutcome.recommended(outcomes),
            let best = working.firstIndex(where: { $0.candidate.key == recommended.candidate.key })
        else {
            let furthest = RouteOutcome.furthest(outcomes)
            throw CommandFailure(
                exitCode: RouteOutcome.exitCode(outcomes),
                message: "no route reached \(endpoint); nothing saved (\(furthest?.message ?? "no route to try"))"
            )
        }
        terminal.say("Routes that work:\n")
        for (index, outcome) in working.enumerated() {
            let mark = index == best ? "  (recommended)" : ""
            terminal.say(
                "  \(index + 1)) \(outcome.candidate.routeText)  \(outcome.elapsed.readable)  "
                    + "from \(outcome.candidate.sourceText)\(mark)\n"
            )
        }
        let choiceText = try question("Route to save", default: String(best + 1)) { answer in
            Int(answer).map { working.indices.contains($0 - 1) } == true ? nil : "a number from 1 to \(working.count)"
        }
        let chosen = working[(Int(choiceText) ?? best + 1) - 1]
        let plan = Doctor.plan(for: chosen.candidate, setup: setup, timeout: duration)
        // The doctor marks the entries of the connection's PAC configured (what check would use).
        let fromOwnPAC = previous?.proxyPac != nil && chosen.candidate.isConfigured && chosen.candidate.pacEntry != nil
        return (plan.configuration, chosen.serverIdentity, fromOwnPAC)
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
