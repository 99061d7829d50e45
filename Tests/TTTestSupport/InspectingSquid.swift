public import Foundation

/// One real squid with ssl-bump (Debian's `squid-openssl`, unpacked privately by `scripts/install-deps` into
/// `.deps/squid-openssl`) with one port per way corporate proxies treat a tunnel, so a suite needs one squid:
///
/// - ``peekSplicePort``: `ssl_bump peek step1` + `splice all`, `on_unsupported_protocol respond`: TLS passes
///   untouched (the access log shows its SNI), anything else is closed at once after the `200`.
/// - ``bumpTunnelPort``: `ssl_bump bump all` with `on_unsupported_protocol tunnel`: TLS is decrypted with the lab
///   CA (`CN=TT Lab Bump CA`) and the decrypted non-HTTP bytes go on to the target.
/// - ``bumpRespondPort``: `ssl_bump bump all` with `on_unsupported_protocol respond`: the decrypted non-HTTP
///   bytes get `HTTP/1.1 400` with `X-Squid-Error: ERR_PROTOCOL_UNKNOWN`.
/// - ``stockPort``: no bumping, squid's stock rule `http_access deny CONNECT !SSL_ports` (port 443 only).
/// - ``stockPlusPort``: the same rule with `SSL_ports` extended by ``extraSSLPort``.
public final class InspectingSquid: Sendable {
    /// Where `scripts/install-deps` unpacks squid-openssl.
    public static var root: URL { BuiltProducts.packageRoot.appendingPathComponent(".deps/squid-openssl") }
    public static var squidPath: String { root.appendingPathComponent("usr/sbin/squid").path }
    /// The bump CA's subject, which intercepted certificates name as their issuer.
    public static let caName = "TT Lab Bump CA"

    /// Whether the tests run: squid-openssl is unpacked, or CI is set (then a missing one fails).
    public static var enabled: Bool { FileManager.default.isExecutableFile(atPath: squidPath) || RealProxies.isCI }

    public let peekSplicePort: Int
    public let bumpTunnelPort: Int
    public let bumpRespondPort: Int
    public let stockPort: Int
    public let stockPlusPort: Int
    public let extraSSLPort: Int
    private let process: RunningProcess
    private let directory: URL

    private init(ports: [Int], extraSSLPort: Int, process: RunningProcess, directory: URL) {
        peekSplicePort = ports[0]
        bumpTunnelPort = ports[1]
        bumpRespondPort = ports[2]
        stockPort = ports[3]
        stockPlusPort = ports[4]
        self.extraSSLPort = extraSSLPort
        self.process = process
        self.directory = directory
    }

    /// Starts squid; `extraSSLPort` is the port ``stockPlusPort`` adds to `SSL_ports`.
    public static func start(extraSSLPort: Int) async throws -> InspectingSquid {
        guard FileManager.default.isExecutableFile(atPath: squidPath) else {
            throw RealProxyUnavailable(
                description: "\(squidPath) is missing; run scripts/install-deps (it unpacks squid-openssl there)"
                    + (RealProxies.isCI ? " - CI is set, so this fails instead of skipping" : "")
            )
        }
        let directory = try RealProxies.makeStateDirectory(prefix: "tt-bump-squid")
        let helpers = root.appendingPathComponent("usr/lib/squid").path
        let dir = directory.path
        try await run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256",
                "-days", "30", "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.crt", "-subj", "/CN=\(caName)",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ]
        )
        let pem =
            try String(contentsOfFile: "\(dir)/ca.crt", encoding: .utf8)
            + String(contentsOfFile: "\(dir)/ca.key", encoding: .utf8)
        try pem.write(toFile: "\(dir)/ca.pem", atomically: true, encoding: .utf8)
        try await run("\(helpers)/security_file_certgen", ["-c", "-s", "\(dir)/ssl_db", "-M", "4MB"])
        if getuid() == 0, let user = getpwnam("proxy") {
            for path in try FileManager.default.subpathsOfDirectory(atPath: dir) {
                chown("\(dir)/\(path)", user.pointee.pw_uid, user.pointee.pw_gid)
            }
        }
        // Five ports found free; all of them again when squid cannot bind one (taken meanwhile by another process).
        return try await withFreeLoopbackPort { first in
            var ports = [first]
            // Bounded: the kernel hands out a port not bound now, at most a few repeats among five.
            for _ in 0..<20 where ports.count < 5 {
                let port = try freeLoopbackPort()
                if !ports.contains(port) { ports.append(port) }
            }
            guard ports.count == 5 else { throw RealProxyUnavailable(description: "no five free loopback ports") }
            let bump = "ssl-bump tls-cert=\(dir)/ca.pem generate-host-certificates=on dynamic_cert_mem_cache_size=4MB"
            let config = """
                http_port 127.0.0.1:\(ports[0]) name=peek \(bump)
                http_port 127.0.0.1:\(ports[1]) name=bumptunnel \(bump)
                http_port 127.0.0.1:\(ports[2]) name=bumprespond \(bump)
                http_port 127.0.0.1:\(ports[3]) name=stock
                http_port 127.0.0.1:\(ports[4]) name=stockplus
                sslcrtd_program \(helpers)/security_file_certgen -s \(dir)/ssl_db -M 4MB
                sslcrtd_children 3 startup=1 idle=1
                acl step1 at_step SslBump1
                acl peekport myportname peek
                acl tunnelport myportname bumptunnel
                acl stockport myportname stock
                acl stockplusport myportname stockplus
                acl SSL_ports port 443
                acl SSL_ports_plus port 443 \(extraSSLPort)
                acl CONNECT method CONNECT
                acl loopback_targets dst 127.0.0.0/8 ::1
                http_access deny !loopback_targets
                http_access deny CONNECT stockport !SSL_ports
                http_access deny CONNECT stockplusport !SSL_ports_plus
                http_access allow localhost
                http_access deny all
                ssl_bump peek step1 peekport
                ssl_bump splice peekport
                ssl_bump bump all
                on_unsupported_protocol tunnel tunnelport
                on_unsupported_protocol respond all
                logformat tt %ts.%03tu %>a %Ss/%03>Hs %rm %ru port=%>lp sni=%ssl::>sni bump=%ssl::bump_mode err=%err_code
                access_log stdio:\(dir)/access.log tt
                cache_log \(dir)/cache.log
                pid_filename \(dir)/squid.pid
                cache deny all
                cache_mem 4 MB
                memory_pools off
                cache_store_log none
                netdb_filename none
                coredump_dir \(dir)
                shutdown_lifetime 0 seconds
                pinger_enable off
                visible_hostname tt-connect-test

                """
            let configFile = directory.appendingPathComponent("squid.conf")
            try config.write(to: configFile, atomically: true, encoding: .utf8)
            let process = try RunningProcess(
                URL(fileURLWithPath: squidPath),
                ["-N", "-n", "ttbump\(ports[0])", "-f", configFile.path]
            )
            for port in ports {
                try await RealProxies.waitUntilListening(
                    port: port,
                    process: process,
                    logFile: directory.appendingPathComponent("cache.log"),
                    name: "squid-openssl"
                )
            }
            return InspectingSquid(ports: ports, extraSSLPort: extraSSLPort, process: process, directory: directory)
        }
    }

    /// The access log so far: one line per tunnel, with `port=`, `sni=` and `bump=` fields.
    public var accessLog: String {
        (try? String(contentsOf: directory.appendingPathComponent("access.log"), encoding: .utf8)) ?? ""
    }

    /// Waits (up to `timeout`) for an access-log line containing all of `texts` (squid logs a tunnel when it ends).
    public func waitForAccessLog(containingAll texts: [String], timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if accessLog.split(separator: "\n").contains(where: { line in texts.allSatisfy(line.contains) }) {
                return true
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Stops squid and removes its state directory.
    public func stop() async {
        await process.stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a started squid and stops it afterwards, whether `body` throws or not.
    public static func with<T>(extraSSLPort: Int, _ body: (InspectingSquid) async throws -> T) async throws -> T {
        try await withStarted(start(extraSSLPort: extraSSLPort), body)
    }

    private static func run(_ path: String, _ arguments: [String]) async throws {
        let result = try await runProcess(URL(fileURLWithPath: path), arguments, timeout: .seconds(30))
        guard result.status == 0 else {
            throw RealProxyUnavailable(description: "\(path) failed: \(result.allOutput)")
        }
    }
}
