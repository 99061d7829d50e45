package import ArgumentParser
import FoundationEssentials
import TTTransport

/// `--tls`, `--tls-verify`, `--tls-cacert`: TLS with the framework server (docs/TRANSPORT.md, "TLS to the server").
package struct TLSOptions: ParsableArguments, Sendable {
    @Option(
        help: ArgumentHelp(
            "TLS with the server: auto (through a proxy only; the default, or the config file's `tls`), always "
                + "(direct connections too) or never.",
            valueName: "MODE"
        )
    )
    package var tls: String?

    @Flag(help: "Verify the server's TLS certificate and name (the pinned framework identity is checked anyway).")
    package var tlsVerify = false

    @Option(help: ArgumentHelp("CA bundle (PEM) to verify the server's TLS certificate with.", valueName: "FILE"))
    package var tlsCacert: String?

    package init() {}

    package func validate() throws {
        if let tls, TLSMode(parsing: tls) == nil {
            throw ValidationError("--tls must be auto, always or never, not '\(tls)'")
        }
        if let tlsCacert, !FileManager.default.isReadableFile(atPath: tlsCacert) {
            throw ValidationError("--tls-cacert: cannot read \(tlsCacert)")
        }
    }

    /// The settings: the flag, else the config file entry's `tls`, else `auto`.
    func options(entry: ConnectionEntry?) -> TargetTLSOptions {
        TargetTLSOptions(
            mode: tls.flatMap(TLSMode.init(parsing:)) ?? entry?.tls ?? .auto,
            verify: tlsVerify,
            caFile: tlsCacert
        )
    }
}
