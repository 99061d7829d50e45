import TTCommandLine
import TTCommandSupport

// scripts/install (so the Debian package) installs tt-ping as a link to this binary: one copy of the Swift
// runtime on disk instead of two (docs/PACKAGING.md). Started by that name, this binary is tt-ping.
if CommandLine.arguments.first?.split(separator: "/").last == "tt-ping" {
    CommandRunner.main(TTPingCommand.self)
} else {
    CommandRunner.main(TTConnectCommand.self, usageReport: TTConnectCommand.usageJSON)
}
