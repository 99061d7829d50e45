package import ArgumentParser
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect`: check, ping, pipe and forward through any transport (check is the default subcommand).
package struct TTConnectCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "tt-connect",
        abstract: "Reach a framework server directly or through an HTTP CONNECT proxy, and tell what fails.",
        discussion: """
            Without a subcommand, tt-connect runs check [options] [HOST[:PORT]].
            tt-connect setup [NAME] saves a connection interactively; tt-connect connections lists them.
            Its main options (tt-connect check --help lists them all):
              -S user:password@server:port      log in (no password: asked for)
              -x, --proxy [http[s]://]HOST[:PORT]  CONNECT proxy (default port 3128)
              -U, --proxy-user USER[:PASS]      proxy credentials
              --proxy-auth SCHEME               any (default), basic, digest, ntlm,
                                                negotiate
              --no-proxy, --noproxy LIST        connect directly (to all, or to LIST)
              --config FILE --connection NAME   a connection of a config file
                                                (default ~/.config/tt-connect/config)
              --server-key SHA256:…             accept only this server identity
              --save-connection NAME            save the route that worked (check)
              --timeout SECONDS                 deadline per stage (default 10)
              --json                            one JSON object instead of lines
              -v, -vv                           show the CONNECT exchange
            """,
        version: VersionReport.clientTool("tt-connect"),
        subcommands: [
            CheckCommand.self, PingCommand.self, PipeCommand.self, ForwardCommand.self, DoctorCommand.self,
            SetupCommand.self, ConnectionsCommand.self,
        ],
        defaultSubcommand: CheckCommand.self
    )

    package init() {}
}
