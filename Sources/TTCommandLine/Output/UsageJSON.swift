package import TTCommandSupport

extension TTConnectCommand {
    /// `--json`'s answer to a usage error of any kind (a bad flag or value, a missing argument): the same object
    /// check prints for a failure, `{"ok":false,"stage":"options","exit_code":2,"message":…}`, so a monitor that
    /// parses standard output always gets one.
    package static let usageJSON: CommandRunner.UsageReport = { arguments, message in
        guard arguments.prefix(while: { $0 != "--" }).contains("--json") else { return nil }
        return CheckOutcome(
            ok: false,
            stage: "options",
            exitCode: CommandFailure.usageExitCode,
            message: message,
            proxyStatus: nil,
            elapsed: .zero,
            stages: [],
            serverIdentity: nil,
            server: "",
            proxy: nil,
            route: ""
        ).json
    }
}
