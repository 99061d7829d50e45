import Foundation
import Glibc
import Synchronization
import TTCommandSupport
import TTTestSupport
import TTTransport
import Testing

@testable import TTCommandLine

@Suite("Saving into a config file that is not a regular file")
struct ConfigFileKindTests {
    @Test("a FIFO in the config file's place is refused at once (exit 2) instead of blocking the save")
    func fifoRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("config-fifo-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config").path
        #expect(mkfifo(path, 0o600) == 0)
        let done = Done()
        let save = Task {
            try await runBlocking { () -> String in
                defer { done.value.store(true, ordering: .releasing) }
                var entry = ConnectionEntry(name: "lab")
                entry.server = "lab.example"
                do throws(CommandFailure) {
                    try ConnectionConfigWriter.save(entry, to: path)
                    return "saved"
                } catch {
                    return "exit \(error.exitCode): \(error.message)"
                }
            }
        }
        let answered = await waitUntil(timeout: .seconds(5)) { done.value.load(ordering: .acquiring) }
        // Whatever happened, a reader blocked on the FIFO gets its end now, so the test process keeps no thread.
        let writer = open(path, O_WRONLY | O_NONBLOCK)
        if writer >= 0 { close(writer) }
        #expect(answered, "saving blocked on a FIFO")
        let outcome = try await save.value
        #expect(outcome.hasPrefix("exit 2: "), "\(outcome)")
        #expect(outcome.contains("not a regular file"), "\(outcome)")
    }
}

private final class Done: Sendable {
    let value = Atomic(false)
}
