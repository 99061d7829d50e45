import Foundation
import Synchronization

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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do { try process.run() } catch { return nil }
        let reader = output.fileHandleForReading
        let collected = Collected()
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            // Reads until end of file; past the limit the rest is read and dropped so the child never blocks.
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                collected.append(chunk, limit: outputLimit)
            }
            drained.signal()
        }
        let waitTime = DispatchTime.now() + .nanoseconds(Int(max(0, timeout.inNanoseconds)))
        if finished.wait(timeout: waitTime) == .timedOut {
            process.terminate()
            _ = finished.wait(timeout: .now() + .seconds(1))
            return nil
        }
        _ = drained.wait(timeout: .now() + .seconds(1))
        guard process.terminationReason == .exit, process.terminationStatus == 0 else { return nil }
        let text = collected.text.trimmingCharacters(in: .whitespacesAndNewlines)
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

    /// The output read so far, shared between the reading thread and the caller.
    private final class Collected: Sendable {
        private let data = Mutex<Data>(Data())

        func append(_ chunk: Data, limit: Int) {
            data.withLock { data in
                let room = limit - data.count
                if room > 0 { data.append(chunk.prefix(room)) }
            }
        }

        var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating), for Dispatch's timeouts.
    fileprivate var inNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : product + attoseconds / 1_000_000_000
    }
}
