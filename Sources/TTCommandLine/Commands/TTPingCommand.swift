package import ArgumentParser
import TTClient
import TTCommandSupport
import TTProtocol
import TTTransport

/// `tt-ping [-P PORT] [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [proxy flags] HOST`: TMSS10Ping's output, through
/// any transport. Exit 0 when replies came back; when none did, the exit code of the cause (docs/CLI.md, "Exit codes"):
/// 4 for a proxy that wants credentials, 8 for a server that cannot be reached, 12 for replies that came too late.
package struct TTPingCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "tt-ping",
        abstract: "Ping a framework server (no login needed), like TMSS10Ping.",
        discussion: """
            HOST may be a bare IPv6 address (tt-ping ::1). With --config FILE --connection NAME, HOST and -P \
            default to the connection's server and port. -c 0 pings until Ctrl-C.
            """,
        version: VersionReport.clientTool("tt-ping")
    )

    @Option(
        name: .customShort("P"),
        help: ArgumentHelp("Server port (default 5000, or the connection's port).", valueName: "PORT")
    )
    package var port: Int?

    @Option(
        help: ArgumentHelp(
            "Accept only the server whose identity has this fingerprint (else known_servers decides, as for check).",
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

    @OptionGroup package var ping: PingOptions
    @OptionGroup package var proxy: ProxyOptions
    @OptionGroup package var tls: TLSOptions

    @Argument(
        help: ArgumentHelp("The framework server (default: the server of --connection).", valueName: "HOST")
    )
    package var host: String?

    package init() {}

    package func validate() throws {
        if let port, !(1...65535).contains(port) {
            throw ValidationError("-P must be a port from 1 to 65535, not \(port)")
        }
        if let serverKey, (try? IdentityFingerprint(parsing: serverKey)) == nil {
            throw ValidationError("--server-key '\(serverKey)' is not a SHA256:… fingerprint as tt-connect prints it")
        }
        if host == nil, proxy.connection == nil {
            throw ValidationError("tt-ping needs HOST (or --connection NAME of a config file naming the server)")
        }
    }

    package func run() throws {
        var target = host.map(Self.hostArgument)
        var defaultPort = port
        if target == nil, let entry = try proxy.loadEntry()?.entry {
            guard let server = entry.server else {
                throw CommandFailure.usage("connection \(entry.name) names no server: give HOST")
            }
            target = Endpoint(host: server, port: port ?? entry.port ?? LogonString.defaultPort).description
            defaultPort = nil
        }
        let plan = try ConnectionSetup.plan(
            target: target,
            defaultPort: defaultPort,
            proxy: proxy,
            server: nil,
            verbose: false,
            reconnect: .once,
            requestTimeout: ping.replyTimeoutDuration,
            tls: tls,
            pinning: (serverKey, knownServers)
        )
        try PingCommand.pingLoop(plan, ping: ping)
    }

    /// HOST as ping takes it: a bare IPv6 address (`::1`, two colons or more) is put in brackets, since the port
    /// comes from `-P`; `host:port` and `[v6]:port` keep working.
    static func hostArgument(_ host: String) -> String {
        host.filter { $0 == ":" }.count >= 2 && !host.hasPrefix("[") ? "[\(host)]" : host
    }
}
