import FoundationEssentials
import TTBasics
import TTCommandSupport

/// Runs a settings tool (`gsettings`, `git`) to read one value: bounded in time and output, never interactive.
///
/// A desktop tool can hang (a dead D-Bus session) or print without end; either would hold the doctor, whose
/// whole point is to finish within its deadline. The child gets no standard input and is terminated (by its PID)
/// when `timeout` passes.
enum BoundedSubprocess {
    /// At most this much of the tool's standard output is kept: a proxy setting is one short line.
    static let outputLimit = 64 * 1024

    /// The tool's standard output, or `nil` when it is missing, failed, timed out, or said nothing.
    static func output(
        _ tool: String,
        _ arguments: [String],
        environment: [String: String],
        timeout: Duration
    ) -> String? {
        guard let executable = locate(tool, path: environment["PATH"]) else { return nil }
        guard
            let outcome = try? ChildProcess.run(
                executable,
                arguments: arguments,
                environment: environment,
                timeout: timeout,
                limit: outputLimit
            ),
            outcome.exitStatus == 0
        else { return nil }
        let text = String(String(decoding: outcome.output, as: UTF8.self).trimmingWhitespace())
        return text.isEmpty ? nil : text
    }

    /// The executable `tool` on `path` (`PATH`), or `tool` itself when it is a path.
    private static func locate(_ tool: String, path: String?) -> String? {
        if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
