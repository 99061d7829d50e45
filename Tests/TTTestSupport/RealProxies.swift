import Foundation

/// Real squid and tinyproxy processes on ephemeral loopback ports, for interoperability tests.
///
/// Each instance gets a private state directory (owned by the `proxy` user, which the proxies drop to when
/// started as root), a config generated from `proxy-fixtures/`, and is killed by ``stop()``.
/// When a binary is missing the start throws ``RealProxyUnavailable``; tests guard with
/// ``RealProxies/squidTestsEnabled`` / ``RealProxies/tinyproxyTestsEnabled``, which are `true` when the
/// binary exists or when `CI` is set (so CI fails loudly instead of skipping).
public enum RealProxies {
    public static let squidPath = "/usr/sbin/squid"
    public static let tinyproxyPath = "/usr/bin/tinyproxy"
    public static let squidHelperDirectory = "/usr/lib/squid"

    /// The user and password in `proxy-fixtures/squid/htpasswd` and `digest-passwords`.
    public static let testUser = "alice"
    public static let testPassword = "Wonderland-S3cret"

    /// Whether `CI` is set: missing proxies fail instead of skipping.
    public static var isCI: Bool { !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty }

    public static var squidTestsEnabled: Bool { FileManager.default.isExecutableFile(atPath: squidPath) || isCI }
    public static var tinyproxyTestsEnabled: Bool {
        FileManager.default.isExecutableFile(atPath: tinyproxyPath) || isCI
    }

    static func requireExecutable(_ path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RealProxyUnavailable(
                description: "\(path) is not installed; install it (Debian: apt-get install squid tinyproxy) "
                    + (isCI ? "- CI is set, so this fails instead of skipping" : "or run without it to skip")
            )
        }
    }

    static func fixture(_ relativePath: String) throws -> String {
        let url = BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures").appendingPathComponent(
            relativePath
        )
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// A fresh directory the `proxy` user can write to.
    static func makeStateDirectory(prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if getuid() == 0, let user = getpwnam("proxy") {
            chown(directory.path, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        chmod(directory.path, 0o755)
        return directory
    }

    /// Writes `config` with its `@PORT@` filled in to `configFile`, starts `executable` and waits until it listens;
    /// on another free port when it does not (``withFreeLoopbackPort(attempts:isolation:_:)``).
    static func startOnFreePort(
        _ executable: String,
        config: String,
        configFile: URL,
        logFile: URL,
        environment: [String: String] = [:],
        arguments: (Int) -> [String]
    ) async throws -> (process: RunningProcess, port: Int) {
        try await withFreeLoopbackPort { port in
            try config.replacingOccurrences(of: "@PORT@", with: String(port))
                .write(to: configFile, atomically: true, encoding: .utf8)
            let process = try RunningProcess(
                URL(fileURLWithPath: executable),
                arguments(port),
                environment: environment
            )
            try await waitUntilListening(
                port: port,
                process: process,
                logFile: logFile,
                name: URL(fileURLWithPath: executable).lastPathComponent
            )
            return (process, port)
        }
    }

    /// Waits until `port` on 127.0.0.1 accepts a TCP connection, or throws with the process output.
    static func waitUntilListening(port: Int, process: RunningProcess, logFile: URL, name: String) async throws {
        // squid starts in well under a second on a quiet machine; with a dozen proxies, KDCs and servers starting
        // at once in parallel suites on 2 cores it has taken over 30 s.
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if canConnect(port: port) { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        await process.stop()
        throw RealProxyUnavailable(
            description: "\(name) did not start listening on 127.0.0.1:\(port): \(process.outputSoFar) \(log)"
        )
    }

    private static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// A real proxy could not be started (binary missing, bad config, port never opened).
public struct RealProxyUnavailable: Error, CustomStringConvertible {
    public var description: String
}

/// A real squid (Debian's build) in the foreground, tunnelling to loopback targets on any port.
public final class RealSquid: Sendable {
    /// How clients must authenticate.
    public enum Authentication: Sendable {
        case none
        /// `basic_ncsa_auth` with `proxy-fixtures/squid/htpasswd`.
        case basic
        /// `digest_file_auth` with `proxy-fixtures/squid/digest-passwords`.
        case digest
        /// `ntlm_fake_auth`: the real NTLM handshake, any credentials accepted.
        case ntlm
        /// `negotiate_kerberos_auth` with the lab's keytab: Kerberos only. Address squid as `localhost`.
        case kerberos(KerberosLab)
        /// What Windows-domain proxies do: Negotiate (the lab's Kerberos), NTLM (`ntlm_fake_auth`, any password
        /// passes the handshake) and Basic (`proxy-fixtures/squid/htpasswd`), challenged in that order.
        case negotiateNTLMBasic(KerberosLab)
        /// Digest, then Basic (two `auth_param` blocks, challenged in that order). Digest knows the test user with
        /// ``digestOnlyPassword``, Basic with ``RealProxies/testPassword``: the test password is rejected as Digest
        /// and accepted as Basic, the fallback a proxy whose Digest store lags behind its Basic one gets.
        case digestThenBasic
    }

    /// The test user's Digest password in ``Authentication/digestThenBasic`` (not its Basic one).
    public static let digestOnlyPassword = "Digest-0nly-Passw0rd"

    public let host = "127.0.0.1"
    public let port: Int
    private let process: RunningProcess
    private let directory: URL

    private init(port: Int, process: RunningProcess, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// Starts squid and waits until it accepts connections.
    /// - Parameter hosts: names squid resolves from its own hosts file (`hosts_file`), never from DNS: a target
    ///   only the proxy can reach.
    public static func start(
        authentication: Authentication = .none,
        hosts: [String: String] = [:]
    ) async throws -> RealSquid {
        try RealProxies.requireExecutable(RealProxies.squidPath)
        let directory = try RealProxies.makeStateDirectory(prefix: "tt-squid")
        let helpers = RealProxies.squidHelperDirectory
        var authLines: [String] = []
        var clients = "localhost"
        var environment: [String: String] = [:]
        switch authentication {
        case .none:
            break
        case .basic:
            let file = directory.appendingPathComponent("htpasswd")
            try RealProxies.fixture("squid/htpasswd").write(to: file, atomically: true, encoding: .utf8)
            authLines = [
                "auth_param basic program \(helpers)/basic_ncsa_auth \(file.path)",
                "auth_param basic children 2",
                "auth_param basic realm tt-connect",
            ]
        case .digest:
            let file = directory.appendingPathComponent("digest-passwords")
            try RealProxies.fixture("squid/digest-passwords").write(to: file, atomically: true, encoding: .utf8)
            authLines = [
                "auth_param digest program \(helpers)/digest_file_auth \(file.path)",
                "auth_param digest children 2",
                "auth_param digest realm tt-connect",
            ]
        case .digestThenBasic:
            let digest = directory.appendingPathComponent("digest-passwords")
            try "\(RealProxies.testUser):\(digestOnlyPassword)\n".write(to: digest, atomically: true, encoding: .utf8)
            let basic = directory.appendingPathComponent("htpasswd")
            try RealProxies.fixture("squid/htpasswd").write(to: basic, atomically: true, encoding: .utf8)
            authLines = [
                "auth_param digest program \(helpers)/digest_file_auth \(digest.path)",
                "auth_param digest children 2",
                "auth_param digest realm tt-connect",
                "auth_param basic program \(helpers)/basic_ncsa_auth \(basic.path)",
                "auth_param basic children 2",
                "auth_param basic realm tt-connect",
            ]
        case .ntlm:
            authLines = [
                "auth_param ntlm program \(helpers)/ntlm_fake_auth",
                "auth_param ntlm children 2",
            ]
        case .kerberos(let lab), .negotiateNTLMBasic(let lab):
            environment = lab.environment
            authLines = [
                "auth_param negotiate program \(helpers)/negotiate_kerberos_auth -k \(lab.keytab) -s GSS_C_NO_NAME",
                "auth_param negotiate children 3 startup=1 idle=1",
                "auth_param negotiate keep_alive on",
            ]
            if case .negotiateNTLMBasic = authentication {
                let file = directory.appendingPathComponent("htpasswd")
                try RealProxies.fixture("squid/htpasswd").write(to: file, atomically: true, encoding: .utf8)
                authLines += [
                    "auth_param ntlm program \(helpers)/ntlm_fake_auth",
                    "auth_param ntlm children 3 startup=1 idle=1",
                    "auth_param ntlm keep_alive on",
                    "auth_param basic program \(helpers)/basic_ncsa_auth \(file.path)",
                    "auth_param basic children 3 startup=1 idle=1",
                    "auth_param basic realm tt-connect",
                ]
            }
        }
        if case .none = authentication {
        } else {
            // Each request's Proxy-Authorization, for ``proxyAuthorizationSchemes``.
            authLines += [
                "logformat ttauth %rm %>Hs %{Proxy-Authorization}>h",
                "access_log stdio:\(directory.path)/auth.log ttauth",
                "acl authenticated proxy_auth REQUIRED",
            ]
            clients = "authenticated"
        }
        let config = try RealProxies.fixture("squid/squid.conf.template")
            .replacingOccurrences(of: "@DIR@", with: directory.path)
            .replacingOccurrences(of: "@AUTH@", with: authLines.joined(separator: "\n"))
            .replacingOccurrences(of: "@CLIENTS@", with: clients)
        var hostsLine = ""
        if !hosts.isEmpty {
            let file = directory.appendingPathComponent("hosts")
            try hosts.map { "\($0.value) \($0.key)\n" }.joined().write(to: file, atomically: true, encoding: .utf8)
            hostsLine = "hosts_file \(file.path)\n"
        }
        let configFile = directory.appendingPathComponent("squid.conf")
        let (process, port) = try await RealProxies.startOnFreePort(
            RealProxies.squidPath,
            config: config + "\n" + hostsLine,
            configFile: configFile,
            logFile: directory.appendingPathComponent("cache.log"),
            environment: environment
        ) { port in ["-N", "-n", "ttsquid\(port)", "-f", configFile.path] }
        return RealSquid(port: port, process: process, directory: directory)
    }

    /// The access log so far (one line per CONNECT), for assertions about what squid saw.
    public var accessLog: String {
        (try? String(contentsOf: directory.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""
    }

    /// The scheme word of the `Proxy-Authorization` header of each request squid received, in order (`-` for a
    /// request without one), read from a log of its own: what went over the wire, whatever the client reports.
    /// Empty without authentication.
    public var proxyAuthorizationSchemes: [String] {
        let log = (try? String(contentsOf: directory.appendingPathComponent("auth.log"), encoding: .utf8)) ?? ""
        return log.split(separator: "\n").compactMap { line in
            // `METHOD STATUS VALUE`; squid logs the value URL-escaped (`Basic%20…`) or quoted, depending on build.
            let fields = line.split(separator: " ", maxSplits: 2)
            guard fields.count == 3 else { return nil }
            let value = fields[2].trimmingCharacters(in: CharacterSet(charactersIn: "\"[]"))
            return String(value.prefix { $0.isLetter || $0 == "-" })
        }
    }

    /// Waits (up to `timeout`) until the access log has a line containing any of `texts`: squid writes a
    /// CONNECT's line only when the tunnel has closed, a moment after the client is done.
    public func waitForAccessLog(containingAnyOf texts: [String], timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let log = accessLog
            if texts.contains(where: log.contains) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Stops squid and removes its state directory.
    public func stop() async {
        await process.stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A real tinyproxy in the foreground; it answers CONNECT with `HTTP/1.0 200` and does not pass half-close.
public final class RealTinyproxy: Sendable {
    public let host = "127.0.0.1"
    public let port: Int
    private let process: RunningProcess
    private let directory: URL

    private init(port: Int, process: RunningProcess, directory: URL) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    /// Starts tinyproxy, optionally requiring Basic authentication with `basicAuth` (user, password).
    public static func start(basicAuth: (user: String, password: String)? = nil) async throws -> RealTinyproxy {
        try RealProxies.requireExecutable(RealProxies.tinyproxyPath)
        let directory = try RealProxies.makeStateDirectory(prefix: "tt-tinyproxy")
        let auth = basicAuth.map { "BasicAuth \($0.user) \($0.password)" } ?? ""
        let config = try RealProxies.fixture("tinyproxy/tinyproxy.conf.template")
            .replacingOccurrences(of: "@DIR@", with: directory.path)
            .replacingOccurrences(of: "@AUTH@", with: auth)
        let configFile = directory.appendingPathComponent("tinyproxy.conf")
        let (process, port) = try await RealProxies.startOnFreePort(
            RealProxies.tinyproxyPath,
            config: config,
            configFile: configFile,
            logFile: directory.appendingPathComponent("tinyproxy.log")
        ) { _ in ["-d", "-c", configFile.path] }
        return RealTinyproxy(port: port, process: process, directory: directory)
    }

    /// Stops tinyproxy and removes its state directory.
    public func stop() async {
        await process.stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }
}

extension RealSquid {
    /// Runs `body` with a started squid and stops it afterwards, whether `body` throws or not, so no squid
    /// outlives its test (a fire-and-forget stop may never run before the test process exits).
    public static func with<T>(
        authentication: Authentication = .none,
        _ body: (RealSquid) async throws -> T
    ) async throws -> T {
        let squid = try await start(authentication: authentication)
        do {
            let result = try await body(squid)
            await squid.stop()
            return result
        } catch {
            await squid.stop()
            throw error
        }
    }
}

extension RealTinyproxy {
    /// Runs `body` with a started tinyproxy and stops it afterwards, whether `body` throws or not.
    public static func with<T>(
        basicAuth: (user: String, password: String)? = nil,
        _ body: (RealTinyproxy) async throws -> T
    ) async throws -> T {
        let tinyproxy = try await start(basicAuth: basicAuth)
        do {
            let result = try await body(tinyproxy)
            await tinyproxy.stop()
            return result
        } catch {
            await tinyproxy.stop()
            throw error
        }
    }
}
