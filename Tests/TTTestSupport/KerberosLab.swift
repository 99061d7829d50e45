public import Foundation

/// A throw-away MIT Kerberos realm `TT.TEST` on loopback: a KDC (`krb5kdc`) on a free 127.0.0.1 port with a
/// fresh database in a private directory, a user `alice`, and the service principal `HTTP/localhost` in a
/// keytab for squid's `negotiate_kerberos_auth`. Nothing system-wide is read or written: `KRB5_CONFIG` and
/// `KRB5_KDC_PROFILE` point into the directory (pass ``environment`` to every Kerberos-using child). Setup takes
/// well under a second. ``stop()`` kills the KDC by its PID and removes the directory.
public final class KerberosLab: Sendable {
    public static let realm = "TT.TEST"
    public static let user = "alice"
    public static let password = "Alice-Krb-Pw-77"
    public static let kdcPath = "/usr/sbin/krb5kdc"
    public static let kdbUtilPath = "/usr/sbin/kdb5_util"
    public static let kadminPath = "/usr/sbin/kadmin.local"
    public static let kinitPath = "/usr/bin/kinit"

    /// Whether the Kerberos tests run: the KDC tools and squid's Negotiate helper exist, or `CI` is set (then a
    /// missing tool fails the test instead of skipping it).
    public static var testsEnabled: Bool {
        let tools = [
            kdcPath, kdbUtilPath, kadminPath, kinitPath, "\(RealProxies.squidHelperDirectory)/negotiate_kerberos_auth",
        ]
        return tools.allSatisfy(FileManager.default.isExecutableFile(atPath:)) && RealProxies.squidTestsEnabled
            || RealProxies.isCI
    }

    public let directory: URL
    public let port: Int
    /// The keytab holding `HTTP/localhost`, readable by squid's `proxy` user.
    public let keytab: String
    private let process: RunningProcess

    /// `KRB5_CONFIG` and `KRB5_KDC_PROFILE` for this realm.
    public var environment: [String: String] {
        [
            "KRB5_CONFIG": directory.appendingPathComponent("krb5.conf").path,
            "KRB5_KDC_PROFILE": directory.appendingPathComponent("kdc.conf").path,
        ]
    }

    private init(directory: URL, port: Int, keytab: String, process: RunningProcess) {
        self.directory = directory
        self.port = port
        self.keytab = keytab
        self.process = process
    }

    /// Creates the realm and starts its KDC.
    public static func start() async throws -> KerberosLab {
        for tool in [kdcPath, kdbUtilPath, kadminPath, kinitPath] { try RealProxies.requireExecutable(tool) }
        let directory = try RealProxies.makeStateDirectory(prefix: "tt-krb5")
        // The KDC's port goes into both files once it starts (below); the database tools do not need it.
        func writeConfiguration(port: Int?) throws {
            let kdc = port.map { "kdc = 127.0.0.1:\($0)" } ?? ""
            let listen = port.map { "kdc_listen = 127.0.0.1:\($0)\n        kdc_tcp_listen = 127.0.0.1:\($0)" } ?? ""
            let krb5Conf = """
                [libdefaults]
                    default_realm = \(realm)
                    dns_lookup_realm = false
                    dns_lookup_kdc = false
                    dns_canonicalize_hostname = false
                    rdns = false
                    ignore_acceptor_hostname = true
                [realms]
                    \(realm) = {
                        \(kdc)
                    }
                [domain_realm]
                    localhost = \(realm)

                """
            let kdcConf = """
                [kdcdefaults]
                    \(listen)
                [realms]
                    \(realm) = {
                        database_name = \(directory.path)/krb5kdc/principal
                        key_stash_file = \(directory.path)/krb5kdc/stash
                        \(listen)
                    }

                """
            try krb5Conf.write(to: directory.appendingPathComponent("krb5.conf"), atomically: true, encoding: .utf8)
            try kdcConf.write(to: directory.appendingPathComponent("kdc.conf"), atomically: true, encoding: .utf8)
        }
        try writeConfiguration(port: nil)
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("krb5kdc"),
            withIntermediateDirectories: true
        )
        let keytab = directory.appendingPathComponent("http.keytab").path
        let environment = [
            "KRB5_CONFIG": directory.appendingPathComponent("krb5.conf").path,
            "KRB5_KDC_PROFILE": directory.appendingPathComponent("kdc.conf").path,
        ]
        func run(_ tool: String, _ arguments: [String]) async throws {
            let result = try await runProcess(
                URL(fileURLWithPath: tool),
                arguments,
                environment: environment,
                timeout: .seconds(30)
            )
            guard result.status == 0 else {
                throw RealProxyUnavailable(description: "\(tool) \(arguments) failed: \(result.allOutput)")
            }
        }
        do {
            try await run(kdbUtilPath, ["create", "-s", "-r", realm, "-P", "master-\(UUID().uuidString)"])
            try await run(kadminPath, ["-r", realm, "-q", "addprinc -pw \(password) \(user)"])
            try await run(kadminPath, ["-r", realm, "-q", "addprinc -randkey HTTP/localhost"])
            try await run(kadminPath, ["-r", realm, "-q", "ktadd -k \(keytab) HTTP/localhost"])
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        if getuid() == 0, let proxyUser = getpwnam("proxy") {
            chown(keytab, proxyUser.pointee.pw_uid, proxyUser.pointee.pw_gid)
        }
        chmod(keytab, 0o600)
        // Another port when the one found free was taken before the KDC bound it.
        return try await withFreeLoopbackPort { port in
            try writeConfiguration(port: port)
            let process = try RunningProcess(
                URL(fileURLWithPath: kdcPath),
                ["-n", "-P", directory.appendingPathComponent("kdc.pid").path],
                environment: environment
            )
            try await RealProxies.waitUntilListening(
                port: port,
                process: process,
                logFile: directory.appendingPathComponent("kdc.log"),
                name: "krb5kdc"
            )
            return KerberosLab(directory: directory, port: port, keytab: keytab, process: process)
        }
    }

    /// Gets a ticket for `alice` into a new private credential cache and returns its `KRB5CCNAME` value.
    public func kinit(lifetime: String? = nil) async throws -> String {
        let cache = "FILE:" + directory.appendingPathComponent("ccache-\(UUID().uuidString.prefix(8))").path
        var environment = self.environment
        environment["KRB5CCNAME"] = cache
        let result = try await runProcess(
            URL(fileURLWithPath: Self.kinitPath),
            (lifetime.map { ["-l", $0] } ?? []) + [Self.user],
            environment: environment,
            input: Data((Self.password + "\n").utf8),
            timeout: .seconds(30)
        )
        guard result.status == 0 else { throw RealProxyUnavailable(description: "kinit failed: \(result.allOutput)") }
        return cache
    }

    /// A `KRB5CCNAME` value naming a cache that holds no ticket.
    public var emptyCache: String {
        "FILE:" + directory.appendingPathComponent("no-such-ccache").path
    }

    /// Stops the KDC and removes the realm.
    public func stop() async {
        await process.stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }
}

extension KerberosLab: StoppableTestResource {}
