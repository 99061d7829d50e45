import TTCommandSupport
import Testing

@Suite("ChildProcess: programs run for their output, bounded in time and size")
struct ChildProcessTests {
    private let environment = ["PATH": "/usr/bin:/bin"]

    @Test("output and exit status come back")
    func outputAndStatus() throws {
        let echo = try ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "echo hello; exit 3"],
            environment: environment,
            timeout: .seconds(20),
            limit: 1024
        )
        #expect(String(decoding: echo.output, as: UTF8.self) == "hello\n")
        #expect(echo.exitStatus == 3)
        #expect(!echo.timedOut)
    }

    @Test("a program past its timeout is stopped by its PID, and output past the limit is dropped")
    func bounded() throws {
        let started = ContinuousClock.now
        let slow = try ChildProcess.run(
            "/bin/sleep",
            arguments: ["30"],
            environment: environment,
            timeout: .milliseconds(200),
            limit: 16
        )
        #expect(slow.timedOut)
        #expect(slow.exitStatus == nil)
        #expect(ContinuousClock.now - started < .seconds(10))

        let chatty = try ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "head -c 100000 /dev/zero"],
            environment: environment,
            timeout: .seconds(20),
            limit: 10
        )
        #expect(chatty.output.count == 10)
        #expect(chatty.exitStatus == 0)
    }

    @Test("stopAtNewline returns after the first line without waiting for the program's end")
    func firstLine() throws {
        let started = ContinuousClock.now
        let line = try ChildProcess.run(
            "/bin/sh",
            arguments: ["-c", "echo secret; exec sleep 30"],
            environment: environment,
            timeout: .seconds(20),
            limit: 64,
            stopAtNewline: true
        )
        #expect(String(decoding: line.output, as: UTF8.self) == "secret\n")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a program that does not exist is a start failure naming the reason")
    func missing() {
        #expect(throws: ChildProcess.StartFailure.self) {
            try ChildProcess.run(
                "/nonexistent/tool",
                arguments: [],
                environment: environment,
                timeout: .seconds(5),
                limit: 16
            )
        }
    }
}
