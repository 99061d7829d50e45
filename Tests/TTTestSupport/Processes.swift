public import Foundation
import Synchronization

/// Where the package's built executables are, for tests that drive the real binaries.
///
/// `swift test` runs the test bundle from the same directory it builds executables into, so the default is
/// the directory of the running test binary; `TT_BIN_DIR` overrides it.
public enum BuiltProducts {
    /// The directory holding `tt-connect`, `tt-ping`, `tt-server` and `tt-proxy`.
    public static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["TT_BIN_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        var candidate = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // On Linux the runner is `…/debug/<Package>PackageTests.xctest`; step out of a bundle if there is one.
        while candidate.pathComponents.count > 1 {
            candidate.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("tt-connect").path) {
                return candidate
            }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }

    /// The URL of one built executable, e.g. `BuiltProducts.executable("tt-ping")`.
    public static func executable(_ name: String) -> URL {
        directory.appendingPathComponent(name)
    }

    /// The root of the package checkout (for `proxy-fixtures/`).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}

/// The outcome of a finished child process.
public struct ProcessResult: Sendable {
    /// The exit status, or 128 + signal number when a signal ended it.
    public var status: Int32
    /// Everything the process wrote to standard output, as UTF-8.
    public var standardOutput: String
    /// Everything the process wrote to standard error, as UTF-8.
    public var standardError: String
    /// From the start to the moment the process was seen to exit (10 ms polling), not counting the wait for the end
    /// of its output: a descriptor another test's child happens to hold can delay that end.
    public var elapsed: Duration = .zero
    /// Both outputs together, for assertions that a secret appears in neither.
    public var allOutput: String { standardOutput + standardError }
}

/// Errors from running child processes in tests.
public struct ProcessRunError: Error, CustomStringConvertible {
    public var description: String
}

/// `environment` plus the test process's sanitizer settings (`ASAN_OPTIONS`, `LSAN_OPTIONS`, `TSAN_OPTIONS`…, set
/// by scripts/sanitize), for a child that otherwise gets only `environment`: without them a sanitized child runs
/// with the sanitizer's defaults and reports what the run suppresses on purpose (LeakSanitizer's suppressions).
func sanitizerSettings(_ environment: [String: String]) -> [String: String] {
    let settings = ProcessInfo.processInfo.environment.filter { $0.key.hasSuffix("SAN_OPTIONS") }
    return environment.merging(settings) { mine, _ in mine }
}

/// A HOME of the child's own, for a child whose caller did not choose one: an empty directory made for it, removed
/// when the child is done.
///
/// The tools write the user's files under HOME: the known-servers file above all. A test that let them use the real
/// HOME left an entry for every ephemeral port its servers had, and a later server on a reused port, with another
/// key, was refused as an impostor (exit 10; CI on 1b7e74f). Nothing a child does reaches the user's own files.
final class PrivateHome: Sendable {
    let path: String

    /// The XDG base directories. Set, each takes the place of its directory under HOME (tt-server keeps its identity
    /// under `XDG_STATE_HOME`, doctor reads KDE's proxy settings under `XDG_CONFIG_HOME`): inherited, they would
    /// lead a child with a private HOME back to the user's files, or have every child share them.
    static let baseDirectoryVariables = ["XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"]

    /// Sets `environment["HOME"]` to a new private directory unless the caller set HOME; `nil` when it did. The
    /// XDG base directories the caller did not set in `chosen` (its own additions to `environment`) go with the
    /// inherited HOME.
    static func assign(
        in environment: inout [String: String],
        chosen: [String: String],
        callerChose: Bool
    ) throws -> PrivateHome? {
        guard !callerChose else { return nil }
        var template = Array("\(NSTemporaryDirectory())/tt-test-home.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ProcessRunError(description: "cannot make a private HOME: \(String(cString: strerror(errno)))")
        }
        let home = PrivateHome(path: String(cString: made))
        environment["HOME"] = home.path
        for variable in baseDirectoryVariables where chosen[variable] == nil { environment[variable] = nil }
        return home
    }

    private init(path: String) { self.path = path }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs an executable to completion, bounded by `timeout`, feeding it `input` on standard input.
///
/// The child is killed when the timeout passes, and the call then throws: a hung binary fails the test
/// instead of hanging the suite. `environment` is added to the test's own, or, with `inheritingEnvironment`
/// false, is all the child gets besides the sanitizer settings (``sanitizerSettings(_:)``). An inheriting child
/// without a HOME in `environment` gets an empty one of its own (``PrivateHome``), not the test's.
public func runProcess(
    _ executable: URL,
    _ arguments: [String],
    environment: [String: String] = [:],
    inheritingEnvironment: Bool = true,
    input: Data? = nil,
    timeout: Duration = .seconds(60)
) async throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = inheritingEnvironment ? ProcessInfo.processInfo.environment : sanitizerSettings([:])
    for (key, value) in environment { env[key] = value }
    let home = try PrivateHome.assign(
        in: &env,
        chosen: environment,
        callerChose: environment["HOME"] != nil || !inheritingEnvironment
    )
    defer { withExtendedLifetime(home) {} }
    process.environment = env
    let outPipe = Pipe()
    let errPipe = Pipe()
    let inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe

    let outData = PipeCollector(outPipe.fileHandleForReading)
    let errData = PipeCollector(errPipe.fileHandleForReading)
    try runWithNoSignalBlocked(process)
    if let input {
        do {
            try inPipe.fileHandleForWriting.write(contentsOf: input)
        } catch let error as NSError
            where (error.userInfo[NSUnderlyingErrorKey] as? NSError)?.code == Int(EPIPE)
        {
            // The child ended, or closed its input, before reading it (a client refused with 407 before it sends
            // anything): its status and output tell what happened.
        }
    }
    try inPipe.fileHandleForWriting.close()

    let started = ContinuousClock.now
    let deadline = started + timeout
    while process.isRunning {
        if ContinuousClock.now > deadline {
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ProcessRunError(
                description: "\(executable.lastPathComponent) \(arguments) did not finish within \(timeout)"
                    + "; stderr: \(String(decoding: await errData.finish(), as: UTF8.self))"
            )
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    process.waitUntilExit()
    let elapsed = ContinuousClock.now - started
    let status =
        process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return ProcessResult(
        status: status,
        standardOutput: String(decoding: await outData.finish(), as: UTF8.self),
        standardError: String(decoding: await errData.finish(), as: UTF8.self),
        elapsed: elapsed
    )
}

/// Starts `process` with no signal blocked in the child: what a test calls instead of `process.run()`.
///
/// `posix_spawn` hands the child the signal mask of the calling thread, and the threads tests run on (Dispatch
/// and Swift concurrency workers, and threads they start) block nearly every signal, SIGTERM, SIGINT, SIGQUIT and
/// SIGABRT among them: a child with that mask survived ``RunningProcess/stop(signal:timeout:)``'s SIGTERM, and a
/// test's own `process.terminate()` then left `waitUntilExit()` waiting for ever. Foundation's `Process` cannot be
/// told a mask for the child, so the calling thread blocks nothing while it spawns, and gets its own mask back
/// right after.
public func runWithNoSignalBlocked(_ process: Process) throws {
    var nothing = sigset_t()
    var saved = sigset_t()
    sigemptyset(&nothing)
    pthread_sigmask(SIG_SETMASK, &nothing, &saved)
    defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
    try process.run()
}

/// A long-running child process (a server or proxy binary) that is killed when the test is done with it.
public final class RunningProcess: Sendable {
    private let process: Process
    private let output: PipeCollector
    private let errors: PipeCollector
    private let home: PrivateHome?

    /// Starts `executable` with `arguments`; it runs until ``stop()``. Without a HOME in `environment`, the child
    /// gets an empty one of its own (``PrivateHome``), removed with this object.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        self.home = try PrivateHome.assign(in: &env, chosen: environment, callerChose: environment["HOME"] != nil)
        process.environment = env
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        self.output = PipeCollector(outPipe.fileHandleForReading)
        self.errors = PipeCollector(errPipe.fileHandleForReading)
        try runWithNoSignalBlocked(process)
        self.process = process
    }

    /// The process identifier, for signals.
    public var pid: Int32 { process.processIdentifier }

    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }

    /// What the process has written to standard output and standard error so far.
    public var outputSoFar: String {
        String(decoding: output.snapshot() + errors.snapshot(), as: UTF8.self)
    }

    /// Waits until the output so far contains `text`, or throws after `timeout`.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !outputSoFar.contains(text) {
            guard process.isRunning else {
                throw ProcessRunError(description: "process exited before printing \(text): \(outputSoFar)")
            }
            guard ContinuousClock.now < deadline else {
                throw ProcessRunError(description: "no \(text) within \(timeout): \(outputSoFar)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends `signal` and waits (bounded) for the process to exit; returns its exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(10)) async -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Collects everything read from a pipe on a thread of its own, so a chatty child never blocks on a full pipe.
/// (Not a global dispatch queue: its blocked readers would hold back every other item on that queue.)
final class PipeCollector: Sendable {
    private let state = LockedBuffer()

    init(_ handle: FileHandle) {
        let state = self.state
        Thread {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                state.append(chunk)
            }
            state.markFinished()
        }.start()
    }

    func snapshot() -> Data { state.value }

    /// Everything the pipe delivered, once it reached end of file (or after 5 s, when a grandchild still holds
    /// the write end). Waits without blocking a cooperative thread.
    func finish() async -> Data {
        let deadline = ContinuousClock.now + .seconds(5)
        while !state.isFinished, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return state.value
    }
}

/// What a pipe delivered so far, touched from the reader queue and the test.
private final class LockedBuffer: Sendable {
    private let state = Mutex((data: Data(), finished: false))

    func append(_ chunk: Data) { state.withLock { $0.data.append(chunk) } }
    func markFinished() { state.withLock { $0.finished = true } }
    var value: Data { state.withLock { $0.data } }
    var isFinished: Bool { state.withLock { $0.finished } }
}

/// Runs `start` with a free loopback port (``freeLoopbackPort()``) and, when it throws, again with another one, up
/// to `attempts` times in all; the last error is thrown.
///
/// For a child that is told its port (squid, tinyproxy, socat, `openssl s_server`): between the moment the port is
/// found free and the moment the child binds it, another process on the machine can take it, and the child then
/// exits or never listens. `start` starts the child and waits until it listens, stopping it when it does not.
public func withFreeLoopbackPort<T>(
    attempts: Int = 3,
    isolation: isolated (any Actor)? = #isolation,
    _ start: (Int) async throws -> T
) async throws -> T {
    var attempt = 1
    while true {
        do {
            return try await start(try freeLoopbackPort())
        } catch {
            guard attempt < attempts else { throw error }
            attempt += 1
        }
    }
}

/// Asks the kernel for a free TCP port on 127.0.0.1, for peers (squid, tinyproxy) that cannot bind port 0
/// and report it.
public func freeLoopbackPort() throws -> Int {
    let (descriptor, port) = try bindLoopback(listenBacklog: nil)
    close(descriptor)
    return port
}
