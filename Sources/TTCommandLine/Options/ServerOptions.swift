package import ArgumentParser
import TTClient
import TTProtocol

/// The server options `tt-connect` shares: logon string, identity pin, known-servers file, timeout.
package struct ServerOptions: ParsableArguments, Sendable {
    @Option(
        name: .customShort("S"),
        help: ArgumentHelp(
            "Logon string; when given, the tool logs in (a missing password is asked for on the terminal).",
            valueName: "user:password@server:port"
        )
    )
    package var logon: String?

    @Option(
        help: ArgumentHelp(
            "Accept only the server whose identity has this fingerprint.",
            valueName: "SHA256:…"
        )
    )
    package var serverKey: String?

    @Option(
        help: ArgumentHelp(
            "Known-servers file for trust on first use (default ~/.config/tt-connect/known_servers).",
            valueName: "FILE"
        )
    )
    package var knownServers: String?

    @Option(
        help: ArgumentHelp(
            "Deadline for connecting (proxy, tunnel, handshake) and for each request.",
            valueName: "SECONDS"
        )
    )
    package var timeout: Double = 10

    package init() {}

    package func validate() throws {
        if let logon {
            do { _ = try LogonString(parsing: logon) } catch { throw ValidationError("-S: \(error)") }
        }
        if let serverKey {
            do { _ = try IdentityFingerprint(parsing: serverKey) } catch {
                throw ValidationError(
                    "--server-key '\(serverKey)' is not a SHA256:… fingerprint as tt-connect "
                        + "prints it: \(error)"
                )
            }
        }
        guard timeout > 0, timeout <= 86_400 else {
            throw ValidationError("--timeout must be a number of seconds above 0 (and at most 86400), not \(timeout)")
        }
    }

    /// The parsed logon string (defaults filled in), or `nil` without `-S`.
    var logonString: LogonString? {
        logon.flatMap { try? LogonString(parsing: $0) }
    }

    /// Whether `-S` named a server (`…@server[:port]`), which then wins over the config file.
    var logonNamesServer: Bool {
        guard let logon, let at = logon.lastIndex(of: "@") else { return false }
        return logon.index(after: at) != logon.endIndex
    }
}

/// `--json` and `-v`.
package struct OutputOptions: ParsableArguments, Sendable {
    @Flag(help: "Print one JSON object instead of lines.")
    package var json = false

    @Flag(
        name: [.customShort("v"), .customLong("verbose")],
        help: "Explain the proxy decision and show the CONNECT exchange on standard error; -vv adds libcurl's trace."
    )
    package var verbosity: Int

    /// Whether `-v` was given at least once.
    package var verbose: Bool { verbosity > 0 }

    package init() {}
}
