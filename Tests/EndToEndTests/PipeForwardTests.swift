import Foundation
import Glibc
import TTTestSupport
import Testing

@Suite("tt-connect pipe and forward", .serialized)
struct PipeForwardTests {
    static let bulkSize = 100 * 1024 * 1024

    @Test("pipe carries 100 MiB through squid (Basic auth) byte-exact", .enabled(if: RealProxies.squidTestsEnabled))
    func bulkThroughSquid() async throws {
        try await withStarted(RealSquid.start(authentication: .basic)) { squid in
            try await bulkTransfer(
                name: "squid",
                proxyArguments: [
                    "--proxy", "127.0.0.1:\(squid.port)", "--proxy-user",
                    "\(RealProxies.testUser):\(RealProxies.testPassword)",
                ],
                holdInputUntilEchoed: true
            )
        }
    }

    @Test("pipe carries 100 MiB through tinyproxy byte-exact", .enabled(if: RealProxies.tinyproxyTestsEnabled))
    func bulkThroughTinyproxy() async throws {
        try await withStarted(RealTinyproxy.start()) { tinyproxy in
            try await bulkTransfer(
                name: "tinyproxy",
                proxyArguments: ["--proxy", "127.0.0.1:\(tinyproxy.port)"],
                holdInputUntilEchoed: true
            )
        }
    }

    @Test("pipe carries 100 MiB directly byte-exact into a pipe on standard output (whole chunks per write)")
    func bulkDirectIntoAPipe() async throws {
        try await bulkTransfer(
            name: "a direct connection into a pipe",
            proxyArguments: ["--no-proxy"],
            holdInputUntilEchoed: true,
            outputThroughPipe: true
        )
    }

    @Test(
        "pipe as an ssh ProxyCommand: end of input half-closes through tt-proxy and directly; the answer still arrives"
    )
    func halfClose() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(ProxyProcess.start()) { proxy in
                let hello = Data(String(repeating: "SSH-2.0-OpenSSH_9.2 tt-connect-test\r\n", count: 5000).utf8)
                let result = try await tool(
                    ["pipe", "--proxy", proxy.address, "127.0.0.1:\(echo.port)"],
                    home: home,
                    input: hello,
                    timeout: .seconds(30)
                )
                #expect(result.status == 0, "\(result.standardError)")
                #expect(Data(result.standardOutput.utf8) == hello)
                let direct = try await tool(
                    ["pipe", "127.0.0.1:\(echo.port)"],
                    home: home,
                    input: hello,
                    timeout: .seconds(30)
                )
                #expect(direct.status == 0)
                #expect(Data(direct.standardOutput.utf8) == hello)
            }
        }
    }

    @Test(
        "pipe with a regular file on standard input (sent with sendfile) echoes it byte-exact, directly and through tt-proxy"
    )
    func fileOnStandardInput() async throws {
        let directory = try TemporaryDirectory()
        let input = directory.file("in.bin")
        let size = 16 * 1024 * 1024
        let generated = try await runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "head -c \(size) /dev/urandom > '\(input)'"]
        )
        try #require(generated.status == 0)
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(ProxyProcess.start()) { proxy in
                for (name, route) in [("direct", ["--no-proxy"]), ("tt-proxy", ["--proxy", proxy.address])] {
                    let output = directory.file("out.\(name).bin")
                    let errors = directory.file("err.\(name).txt")
                    _ = FileManager.default.createFile(atPath: output, contents: nil)
                    _ = FileManager.default.createFile(atPath: errors, contents: nil)
                    let process = Process()
                    process.executableURL = BuiltProducts.executable("tt-connect")
                    process.arguments = ["pipe"] + route + ["127.0.0.1:\(echo.port)"]
                    process.environment = ["HOME": directory.path, "PATH": "/usr/bin:/bin"]
                    process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
                    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
                    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
                    try runWithNoSignalBlocked(process)
                    let deadline = ContinuousClock.now + .seconds(60)
                    while process.isRunning, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                    process.waitUntilExit()
                    let errorText = try String(contentsOfFile: errors, encoding: .utf8)
                    #expect(process.terminationStatus == 0, "\(name): \(errorText)")
                    let sums = try await runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [input, output])
                    let digests = sums.standardOutput.split(separator: "\n").map {
                        $0.split(separator: " ").first ?? ""
                    }
                    let received = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
                    #expect(
                        digests.count == 2 && digests[0] == digests[1],
                        "\(name): \(received) of \(size) bytes came back; \(errorText)"
                    )
                }
            }
        }
    }

    @Test("pipe through a proxy to a sink that never answers: all of the input goes, exit 0, no inspection verdict")
    func sinkThroughProxy() async throws {
        let home = try TemporaryDirectory()
        // socat -u reads the one connection to its end into /dev/null and answers nothing.
        let (sink, port) = try await startListeningProcess(URL(fileURLWithPath: "/usr/bin/socat")) { port in
            ["-u", "TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr", "OPEN:/dev/null,wronly"]
        }
        try await withStarted(sink) { _ in
            try await withStarted(ProxyProcess.start()) { proxy in
                let input = Data(repeating: 0x5A, count: 1 << 20)
                let result = try await tool(
                    ["pipe", "--proxy", proxy.address, "127.0.0.1:\(port)"],
                    home: home,
                    input: input
                )
                #expect(result.status == 0, "\(result.allOutput)")
                #expect(result.standardOutput.isEmpty)
                #expect(
                    result.standardError.contains(
                        "the tunnel through http://\(proxy.address) to 127.0.0.1:\(port) ended with nothing back after "
                            + "all the input went (1048576 bytes)"
                    ),
                    "\(result.standardError)"
                )
                #expect(!result.standardError.contains("as soon as data was sent"), "\(result.standardError)")
            }
        }
    }

    @Test("pipe to a closed port exits 8; without a port it is a usage error")
    func pipeFailures() async throws {
        let home = try TemporaryDirectory()
        let noPort = try await tool(["pipe", "127.0.0.1"], home: home)
        #expect(noPort.status == 2)
        #expect(noPort.standardError.contains("has no port; write HOST:PORT"))
        let refused = try await tool(["pipe", "127.0.0.1:\(try closedPort())"], home: home, input: Data("x".utf8))
        #expect(refused.status == 8)
        #expect(refused.standardError.contains("refused the connection"))
    }

    @Test("forward: two concurrent clients through --listen 127.0.0.1:0 to an echo server; SIGINT stops it")
    func forwardTwoClients() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(EchoServer.start()) { echo in
            try await withStarted(ProxyProcess.start()) { proxy in
                let forward = try RunningProcess(
                    BuiltProducts.executable("tt-connect"),
                    [
                        "forward", "--listen", "127.0.0.1:0", "--max-connections", "4", "--proxy", proxy.address,
                        "127.0.0.1:\(echo.port)",
                    ],
                    environment: ["HOME": home.path]
                )
                try await forward.waitForOutput(containing: "listening on 127.0.0.1:")
                let port = try #require(
                    try lineValue(forward.outputSoFar, after: "listening on 127.0.0.1:").flatMap { Int($0) }
                )
                let first = Data((0..<20_000).map { "first \($0)\n" }.joined().utf8)
                let second = Data((0..<20_000).map { "second \($0)\n" }.joined().utf8)
                async let a = runProcess(
                    URL(fileURLWithPath: "/usr/bin/ncat"),
                    ["127.0.0.1", String(port)],
                    input: first,
                    timeout: .seconds(30)
                )
                async let b = runProcess(
                    URL(fileURLWithPath: "/usr/bin/ncat"),
                    ["127.0.0.1", String(port)],
                    input: second,
                    timeout: .seconds(30)
                )
                let (resultA, resultB) = try await (a, b)
                #expect(resultA.status == 0 && resultB.status == 0)
                #expect(Data(resultA.standardOutput.utf8) == first)
                #expect(Data(resultB.standardOutput.utf8) == second)
                let status = await forward.stop(signal: SIGINT)
                #expect(status == 0)
            }
        }
    }

    /// squid 5.7 and tinyproxy 1.11 end the whole tunnel when the client half-closes, dropping data still in
    /// flight (docs/TRANSPORT.md), so input stays open until everything came back, as ssh keeps it open until its
    /// session ends; then the end of input must still end the pipe.
    ///
    /// Streams a generated 100 MiB file through `tt-connect pipe` to an echo server and compares SHA-256 of
    /// what went in and what came back; prints the throughput.
    /// - Parameter outputThroughPipe: standard output is a pipe (as under ssh), copied to the file by this
    ///   test; otherwise it is the file itself.
    private func bulkTransfer(
        name: String,
        proxyArguments: [String],
        holdInputUntilEchoed: Bool,
        outputThroughPipe: Bool = false
    ) async throws {
        let directory = try TemporaryDirectory()
        try await withStarted(EchoServer.start()) { echo in
            let input = directory.file("in.bin")
            let output = directory.file("out.bin")
            let generated = try await runProcess(
                URL(fileURLWithPath: "/bin/sh"),
                ["-c", "head -c \(Self.bulkSize) /dev/urandom > '\(input)'"]
            )
            try #require(generated.status == 0)
            _ = FileManager.default.createFile(atPath: output, contents: nil)

            let process = Process()
            process.executableURL = BuiltProducts.executable("tt-connect")
            process.arguments = ["pipe"] + proxyArguments + ["127.0.0.1:\(echo.port)"]
            process.environment = ["HOME": directory.path, "PATH": "/usr/bin:/bin"]
            let stdin = Pipe()
            let errors = directory.file("err.txt")
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            process.standardInput = stdin
            let outputFile = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            let stdout = Pipe()
            process.standardOutput = outputThroughPipe ? stdout : outputFile
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
            let started = ContinuousClock.now
            try runWithNoSignalBlocked(process)
            // Bounded by the pipe's end: tt-connect's exit (or its termination below) closes it.
            let copier = Task.detached {
                guard outputThroughPipe else { return }
                let reader = stdout.fileHandleForReading
                while let chunk = try reader.read(upToCount: 1 << 20), !chunk.isEmpty {
                    try outputFile.write(contentsOf: chunk)
                }
            }
            // Our copy of the write end: the copier must see the end once tt-connect exits.
            if outputThroughPipe { try? stdout.fileHandleForWriting.close() }
            let writer = stdin.fileHandleForWriting
            let size = Self.bulkSize
            let feeder = Task.detached {
                let source = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
                defer { try? source.close() }
                while let chunk = try source.read(upToCount: 1 << 20), !chunk.isEmpty {
                    try writer.write(contentsOf: chunk)
                }
                if holdInputUntilEchoed {
                    let deadline = ContinuousClock.now + .seconds(90)
                    while ContinuousClock.now < deadline,
                        ((try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0) < size
                    {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                try writer.close()
            }
            let deadline = ContinuousClock.now + .seconds(120)
            while process.isRunning, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try await copier.value
            try outputFile.close()
            let elapsed = ContinuousClock.now - started
            try await feeder.value
            let errorText = try String(contentsOfFile: errors, encoding: .utf8)
            #expect(process.terminationStatus == 0, "\(errorText)")

            let sums = try await runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [input, output])
            let digests = sums.standardOutput.split(separator: "\n").map { $0.split(separator: " ").first ?? "" }
            let received = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            #expect(digests.count == 2 && digests[0] == digests[1], "\(received) bytes came back; \(errorText)")
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                "pipe through \(name): 100 MiB echoed in \(String(format: "%.2f", seconds)) s = "
                    + "\(String(format: "%.1f", 100 / seconds)) MiB/s each way"
            )
            #expect(!errorText.contains(RealProxies.testPassword))
        }
    }
}
