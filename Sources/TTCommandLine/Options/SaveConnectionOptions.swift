package import ArgumentParser

/// What `check` and `doctor` save with `--save-connection`: the help text names it ("When the check succeeds,
/// write its route", "Write the recommended route").
package protocol SavedRouteWording {
    /// The start of `--save-connection`'s help, up to " as [connection NAME]".
    static var savedRoute: String { get }
}

/// The server argument and `--save-connection NAME`, shared by `check` and `doctor`: declared, explained and
/// validated once.
package struct SaveConnectionOptions<Wording: SavedRouteWording>: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            Wording.savedRoute
                + " as [connection NAME] in the config file (--config, default ~/.config/tt-connect/config): "
                + "server, proxy, user, the server key seen; passwords go to files beside it, never into it.",
            valueName: "NAME"
        )
    )
    package var saveConnection: String?

    @Argument(
        help: ArgumentHelp(
            "The framework server (default: from -S, the config file, or localhost:5000).",
            valueName: "HOST[:PORT]"
        )
    )
    package var target: String?

    package init() {}

    package func validate() throws {
        if let saveConnection, !ConnectionConfigWriter.isValidName(saveConnection) {
            throw ValidationError(
                "--save-connection needs a name of letters, digits and - _ . @ + (at most 64), not '\(saveConnection)'"
            )
        }
    }
}
