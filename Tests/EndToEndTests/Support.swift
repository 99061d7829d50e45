import Foundation
import Synchronization
import TTTestSupport

/// The password of the users-file account the tests log in with; asserted absent from every output.
let serverPassword = "Pa55-word-E2E"
let serverUser = "fred"

/// A temporary directory removed when the test is done with it.
final class TemporaryDirectory: Sendable {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tt-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A real `tt-server` child process on 127.0.0.1:0 with one user (`fred`), killed by ``stop()``.
final class ServerProcess: Sendable {
    let process: RunningProcess
    let port: Int
    let fingerprint: String
    let directory: TemporaryDirectory

    var address: String { "127.0.0.1:\(port)" }

    static func start() async throws -> ServerProcess {
        let directory = try TemporaryDirectory()
        let users = directory.file("users")
        let added = try await runProcess(
            BuiltProducts.executable("tt-server"),
            ["add-user", serverUser, "--users", users, "--iterations", "1000"],
            input: Data((serverPassword + "\n").utf8),
            timeout: .seconds(30)
        )
        guard added.status == 0 else { throw E2EError("add-user failed: \(added.allOutput)") }
        let process = try RunningProcess(
            BuiltProducts.executable("tt-server"),
            ["--listen", "127.0.0.1:0", "--identity", directory.file("identity.pem"), "--users", users]
        )
        try await process.waitForOutput(containing: "tt-server listening on 127.0.0.1:")
        let output = process.outputSoFar
        let port = try lineValue(output, after: "tt-server listening on 127.0.0.1:").flatMap { Int($0) }
        let fingerprint = try lineValue(output, after: "identity ")
        guard let port, let fingerprint else { throw E2EError("cannot read tt-server output: \(output)") }
        return ServerProcess(process: process, port: port, fingerprint: fingerprint, directory: directory)
    }

    private init(process: RunningProcess, port: Int, fingerprint: String, directory: TemporaryDirectory) {
        self.process = process
        self.port = port
        self.fingerprint = fingerprint
        self.directory = directory
    }

    func stop() async { await process.stop() }
}

/// A real `tt-proxy` child process on 127.0.0.1:0, normal or running a scenario from `proxy-fixtures/`.
final class ProxyProcess: Sendable {
    let process: RunningProcess
    let port: Int
    var address: String { "127.0.0.1:\(port)" }

    static func start(_ arguments: [String] = [], scenario: String? = nil) async throws -> ProxyProcess {
        var arguments = ["--listen", "127.0.0.1:0"] + arguments
        if let scenario {
            arguments += [
                "--scenario", BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures/\(scenario)").path,
            ]
        }
        let process = try RunningProcess(BuiltProducts.executable("tt-proxy"), arguments)
        try await process.waitForOutput(containing: "tt-proxy listening on 127.0.0.1:")
        guard
            let port = try lineValue(process.outputSoFar, after: "tt-proxy listening on 127.0.0.1:").flatMap({ Int($0) }
            )
        else { throw E2EError("cannot read tt-proxy output: \(process.outputSoFar)") }
        return ProxyProcess(process: process, port: port)
    }

    private init(process: RunningProcess, port: Int) {
        self.process = process
        self.port = port
    }

    func stop() async { await process.stop() }
}

/// The rest of the first line of `text` that starts with `prefix`.
func lineValue(_ text: String, after prefix: String) throws -> String? {
    for line in text.split(separator: "\n") {
        if let range = line.range(of: prefix) {
            return String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}

/// Runs `tt-connect` (or another tool) with a private HOME (so the user's known-servers file is never
/// touched) and without proxy variables from the test's own environment.
func tool(
    _ arguments: [String],
    name: String = "tt-connect",
    home: TemporaryDirectory,
    environment: [String: String] = [:],
    input: Data? = nil,
    timeout: Duration = .seconds(60)
) async throws -> ProcessResult {
    var env = [
        "HOME": home.path, "HTTPS_PROXY": "", "https_proxy": "", "ALL_PROXY": "", "all_proxy": "",
        "NO_PROXY": "", "no_proxy": "",
    ]
    for (key, value) in environment { env[key] = value }
    return try await runProcess(
        BuiltProducts.executable(name),
        arguments,
        environment: env,
        input: input,
        timeout: timeout
    )
}

/// Parses the single JSON object `--json` prints.
func jsonObject(_ result: ProcessResult) throws -> [String: Any] {
    let data = Data(result.standardOutput.utf8)
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw E2EError("not a JSON object: \(result.standardOutput)")
    }
    return object
}

/// A loopback port nothing listens on, held for the rest of the test run: bound but not listening
/// (``ClosedPort``), so a connection to it is refused.
///
/// Released instead (bound, read back, closed), the port was free for anyone while a test expected it refused: a
/// server another test started, or the local port of any outgoing connection on the machine (the ports come from
/// the same ephemeral range), could take it. A bound port is not handed to anyone else.
func closedPort() throws -> Int {
    let reserved = try ClosedPort()
    heldClosedPorts.withLock { $0.append(reserved) }
    return reserved.port
}

/// The ports ``closedPort()`` handed out: a few dozen descriptors in a whole run.
private let heldClosedPorts = Mutex<[ClosedPort]>([])

/// A test setup step failed.
struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension ServerProcess: StoppableTestResource {}
extension ProxyProcess: StoppableTestResource {}
