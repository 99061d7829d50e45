import TTProtocol
import Testing

@testable import TTServer

@Suite("What a login's outcome does to the session")
struct RequestDispatcherTests {
    @Test("A password check that failed to run answers Server busy and is not counted as a wrong password")
    func failedCheckIsNotAWrongPassword() {
        var dispatcher = RequestDispatcher(maxFailedLogins: 2)
        for _ in 0..<5 {
            let (response, exhausted) = dispatcher.finishLogin(user: "alice", outcome: .failed)
            #expect(response.rc == .serverBusy)
            #expect(!exhausted)
        }
        #expect(dispatcher.failedLogins == 0)
        #expect(dispatcher.user == nil)
        // Wrong passwords do count, and close the session at the limit.
        #expect(
            dispatcher.finishLogin(user: "alice", outcome: .rejected) == (ResponsePacket(rc: .loginRejected), false)
        )
        #expect(dispatcher.finishLogin(user: "alice", outcome: .rejected).exhausted)
    }
}
