import TTClient
import TTCommandLine
import Testing

@Suite("Exit codes live in the command-line module")
struct ExitCodeTests {
    @Test(
        "every client error category maps to its exit code of the table in docs/CLI.md",
        arguments: [
            (FrameworkClientError.Category.internalError, Int32(1)), (.usage, 2), (.proxyUnreachable, 3),
            (.proxyAuthenticationRequired, 4), (.proxyRefused, 5), (.proxyGatewayFailure, 6),
            (.proxyProtocolViolation, 7), (.serverUnreachable, 8), (.notFrameworkServer, 9), (.identityMismatch, 10),
            (.loginRejected, 11), (.timedOut, 12), (.tunnelInspected, 13), (.serverBusy, 14), (.outcomeUnknown, 15),
        ]
    )
    func table(category: FrameworkClientError.Category, exitCode: Int32) {
        #expect(category.exitCode == exitCode)
    }

    @Test("no category falls through to the fallback: each has an exit code of its own, and none is 0")
    func complete() {
        let categories = FrameworkClientError.Category.allCategories
        let codes = Set(categories.map(\.exitCode))
        #expect(codes.count == categories.count)
        #expect(!codes.contains(0))
    }
}
