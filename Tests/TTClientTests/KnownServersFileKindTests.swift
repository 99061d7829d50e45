import Foundation
import Glibc
import Synchronization
import TTClient
import TTTestSupport
import Testing

@Suite("Known-servers file: what is not a regular file")
struct KnownServersFileKindTests {
    @Test("a FIFO in the known-servers file's place is refused at once instead of blocking the connection")
    func fifoRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("known-fifo-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("known_servers").path
        #expect(mkfifo(path, 0o600) == 0)
        let known = KnownServers(path: path)
        let done = Done()
        let lookup = Task {
            try await runBlocking { () -> String in
                defer { done.value.store(true, ordering: .releasing) }
                do throws(KnownServersError) {
                    _ = try known.fingerprint(for: "host:5000")
                    return "no error"
                } catch {
                    return error == .unopenable ? "unopenable: \(error)" : "other: \(error)"
                }
            }
        }
        let answered = await waitUntil(timeout: .seconds(5)) { done.value.load(ordering: .acquiring) }
        // Whatever happened, a reader blocked on the FIFO gets its end now, so the test process keeps no thread.
        let writer = open(path, O_WRONLY | O_NONBLOCK)
        if writer >= 0 { close(writer) }
        #expect(answered, "reading the known-servers file blocked on a FIFO")
        let outcome = try await lookup.value
        #expect(outcome.hasPrefix("unopenable: "), "\(outcome)")
        #expect(outcome.contains("not a regular file"), "\(outcome)")
    }
}

private final class Done: Sendable {
    let value = Atomic(false)
}
