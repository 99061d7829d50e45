package import ArgumentParser
import TTTransport

/// `--tls` of `pipe` and `forward`: whether the relayed bytes travel inside TLS with the target.
///
/// Unlike check's `--tls` the default is `never`: the bytes are the client's own protocol (ssh, a legacy raw
/// client), and only a target that terminates TLS (stunnel, HAProxy, tt-server's port) can take them wrapped.
package struct RelayTLSOptions: ParsableArguments, Sendable {
    @Option(
        help: ArgumentHelp(
            "Wrap the relayed bytes in TLS with the target: never, always, or auto (through a "
                + "proxy only); for targets that terminate TLS, behind proxies that let only TLS through.",
            valueName: "MODE"
        )
    )
    package var tls: String = "never"

    package init() {}

    package func validate() throws {
        guard TLSMode(parsing: tls) != nil else {
            throw ValidationError("--tls must be auto, always or never, not '\(tls)'")
        }
    }

    /// The mode; `never` until ``validate()`` has refused anything else.
    var mode: TLSMode { TLSMode(parsing: tls) ?? .never }
}
