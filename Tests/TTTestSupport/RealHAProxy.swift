import Foundation

/// A real HAProxy (Debian's haproxy 2.6) in TCP mode with `send-proxy-v2` in front of tt-servers, on loopback,
/// with a generated configuration in a temporary directory; stopped by its process id. Tests that need it are
/// skipped when it is not installed, unless `CI` is set (then they fail).
public final class RealHAProxy: StoppableTestResource {
    public static let path = "/usr/sbin/haproxy"

    public static var testsEnabled: Bool {
        FileManager.default.isExecutableFile(atPath: path) || RealProxies.isCI
    }

    /// One tt-server behind the balancer: its framework port, and its admin port for `option httpchk`.
    public struct Backend: Sendable {
        public var port: Int
        public var adminPort: Int

        public init(port: Int, adminPort: Int) {
            self.port = port
            self.adminPort = adminPort
        }
    }

    /// The port clients connect to.
    public let port: Int
    private let process: RunningProcess
    private let directory: URL

    private init(port: Int, process: RunningProcess, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// The configuration of contrib/haproxy.cfg, with loopback addresses and fast health checks for tests.
    ///
    /// A check every 300 ms takes a stopped server out at once: it refuses the connection, or its admin listener
    /// answers 503 while it drains. Without `timeout check`, though, 300 ms would also be the whole check's time
    /// limit (connect and answer), and on a loaded machine a running server's event loop can take longer to
    /// answer `/healthz`: one such check (`fall 1`) took the survivor out too, and with both servers down the
    /// clients' connections failed. `timeout check 5s` gives the answer 5 s; a refused connection or a 503 still
    /// fails the check at once.
    public static func configuration(port: Int, backends: [Backend]) -> String {
        var text = """
            global
                maxconn 4096

            defaults
                mode tcp
                timeout connect 2s
                timeout client 120s
                timeout server 120s
                timeout check 5s
                retries 3
                option redispatch 1

            frontend tt_connect
                bind 127.0.0.1:\(port)
                default_backend tt_servers

            backend tt_servers
                balance leastconn
                option httpchk GET /healthz
                http-check expect status 200
                default-server send-proxy-v2 check inter 300ms fall 1 rise 2

            """
        for (index, backend) in backends.enumerated() {
            text += "    server tt\(index + 1) 127.0.0.1:\(backend.port) check port \(backend.adminPort)\n"
        }
        return text
    }

    /// Starts HAProxy on a free loopback port in front of `backends` and waits until it accepts connections.
    public static func start(backends: [Backend]) async throws -> RealHAProxy {
        try RealProxies.requireExecutable(path)
        let directory = try RealProxies.makeStateDirectory(prefix: "tt-haproxy")
        let file = directory.appendingPathComponent("haproxy.cfg")
        // Another port when the one found free was taken before HAProxy bound it.
        return try await withFreeLoopbackPort { port in
            try configuration(port: port, backends: backends).write(to: file, atomically: true, encoding: .utf8)
            // -db: stay in the foreground, so the process id is HAProxy's own and stopping it stops it.
            let process = try RunningProcess(URL(fileURLWithPath: path), ["-db", "-f", file.path])
            try await RealProxies.waitUntilListening(port: port, process: process, logFile: file, name: "haproxy")
            return RealHAProxy(port: port, process: process, directory: directory)
        }
    }

    /// What HAProxy printed (server state changes among it).
    public var outputSoFar: String { process.outputSoFar }

    public func stop() async {
        await process.stop(signal: SIGTERM)
        try? FileManager.default.removeItem(at: directory)
    }
}
