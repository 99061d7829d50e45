import Foundation
import TTTestSupport
import Testing

/// Finding 14 of issue 13: when the target closed, `pipe` kept running until standard input wrote, then exited
/// 8 even through a proxy.
@Suite("tt-connect pipe ends when the target hangs up", .serialized)
struct PipeTargetCloseTests {
    /// Runs `tt-connect pipe` with a standard input that stays open and silent (a FIFO opened read-write: no
    /// data, never end of file), as ssh's idle terminal would be.
    private func pipeWithIdleInput(_ arguments: [String]) async throws -> ProcessResult {
        let home = try TemporaryDirectory()
        let fifo = home.file("stdin")
        try #require(mkfifo(fifo, 0o600) == 0)
        return try await runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "exec \"$0\" \"$@\" <> \"$TT_TEST_FIFO\"", BuiltProducts.executable("tt-connect").path, "pipe"]
                + arguments,
            environment: ["TT_TEST_FIFO": fifo, "HOME": home.path, "NO_PROXY": "", "no_proxy": ""],
            timeout: .seconds(20)
        )
    }

    @Test("directly: the target's bytes arrive and pipe exits 0 at once, with standard input idle")
    func direct() async throws {
        let greeting = Array("bye from target\n".utf8)
        try await withStarted(EchoServer.start(greeting: greeting, closeAfterGreeting: true)) { target in
            let result = try await pipeWithIdleInput(["127.0.0.1:\(target.port)"])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput == "bye from target\n")
        }
    }

    @Test("issue 22: a target that hangs up without a byte is said on standard error, directly and through tt-proxy")
    func nothingBack() async throws {
        try await withStarted(EchoServer.start(closeAfterGreeting: true)) { target in
            let direct = try await pipeWithIdleInput(["127.0.0.1:\(target.port)"])
            #expect(direct.status == 0, "\(direct.standardError)")
            #expect(direct.standardOutput.isEmpty)
            #expect(
                direct.standardError
                    == "tt-connect: the connection to 127.0.0.1:\(target.port) ended before anything came back "
                    + "(0 bytes sent)\n"
            )
            try await withStarted(ProxyProcess.start()) { proxy in
                // Nothing was sent, so this is no proxy that closes on data: exit 0, and the line says so.
                let tunnelled = try await pipeWithIdleInput(["--proxy", proxy.address, "127.0.0.1:\(target.port)"])
                #expect(tunnelled.status == 0, "\(tunnelled.standardError)")
                #expect(
                    tunnelled.standardError
                        == "tt-connect: the tunnel through http://\(proxy.address) to 127.0.0.1:\(target.port) ended "
                        + "before anything came back (0 bytes sent)\n"
                )
            }
        }
    }

    @Test("through tt-proxy: the same, exit 0, never the direct-connection exit 8")
    func throughProxy() async throws {
        let greeting = Array("bye from target\n".utf8)
        try await withStarted(EchoServer.start(greeting: greeting, closeAfterGreeting: true)) { target in
            try await withStarted(ProxyProcess.start()) { proxy in
                let result = try await pipeWithIdleInput(["--proxy", proxy.address, "127.0.0.1:\(target.port)"])
                #expect(result.status == 0, "\(result.standardError)")
                #expect(result.standardOutput == "bye from target\n")
            }
        }
    }
}
