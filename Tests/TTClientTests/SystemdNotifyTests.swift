import Foundation
import TTCommandSupport
import TTTestSupport
import Testing

/// ``SystemdNotify``: the `READY=1` datagram of `Type=notify`, sent to a real unix datagram socket.
@Suite struct SystemdNotifyTests {
    @Test func sendsOneDatagramToAFileSystemSocket() async throws {
        let socket = try NotifySocket()
        #expect(SystemdNotify.send("READY=1", to: socket.path))
        #expect(await socket.receive() == "READY=1")
    }

    @Test func sendsOneDatagramToAnAbstractSocket() async throws {
        let socket = try NotifySocket(abstract: true)
        #expect(socket.path.hasPrefix("@"))
        #expect(SystemdNotify.send("READY=1", to: socket.path))
        #expect(await socket.receive() == "READY=1")
    }

    @Test func sendsNothingWithoutAnAbsolutePathOrAbstractName() {
        #expect(!SystemdNotify.send("READY=1", to: ""))
        #expect(!SystemdNotify.send("READY=1", to: "relative/notify"))
        #expect(!SystemdNotify.send("READY=1", to: "/" + String(repeating: "x", count: 200)))
    }

    @Test func reportsAFailureWhenNoSocketListens() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("tt-notify-missing-\(UUID())").path
        #expect(!SystemdNotify.send("READY=1", to: missing))
    }
}
