import Foundation
import TTTestSupport
import Testing

/// `tt-connect doctor` on a lab built from real parts: a dead HTTPS_PROXY, GNOME settings through gsettings'
/// keyfile backend, a KDE kioslaverc, a Firefox profile whose PAC (served over HTTP on loopback) lists a proxy
/// that accepts and never answers, then squid wanting Basic, a dead proxy in apt, /etc/environment and git.
/// The server's name resolves only in squid's hosts file, so only squid reaches it.
@Suite("tt-connect doctor", .serialized, .enabled(if: RealProxies.squidTestsEnabled, "needs squid (/usr/sbin/squid)"))
struct DoctorTests {
    static let serverName = "framework.doctor-lab.test"
    static let timeout = 6.0

    /// The lab's files and the environment that points the doctor at them.
    struct Lab {
        let home: TemporaryDirectory
        let environment: [String: String]
        let pacURL: String
        let dead: [String: Int]
    }

    static func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Writes the desktop and system settings; `squid` and `hanging` are the PAC's two proxies.
    static func makeLab(squid: Int, hanging: Int, pacPort: Int, home: TemporaryDirectory) throws -> Lab {
        var dead: [String: Int] = [:]
        for name in ["env", "gnome", "apt", "etc", "git"] { dead[name] = try closedPort() }
        let root = home.path
        try write(
            "[Proxy Settings]\nProxyType=1\nhttpsProxy=http://127.0.0.1 \(squid)\n",
            to: root + "/.config/kioslaverc"
        )
        let pacURL = "http://127.0.0.1:\(pacPort)/proxy.pac"
        try write(
            "user_pref(\"network.proxy.autoconfig_url\", \"\(pacURL)\");\nuser_pref(\"network.proxy.type\", 2);\n",
            to: root + "/.mozilla/firefox/lab.default/prefs.js"
        )
        try write(
            "Acquire::https::Proxy \"http://127.0.0.1:\(dead["apt"]!)\";\n",
            to: root + "/etc/apt/apt.conf.d/90proxy"
        )
        try write("https_proxy=\"http://127.0.0.1:\(dead["etc"]!)\"\n", to: root + "/etc/environment")
        try write("[http]\n\tproxy = http://127.0.0.1:\(dead["git"]!)\n", to: root + "/.gitconfig")
        let environment = [
            "XDG_CONFIG_HOME": root + "/.config", "TT_CONNECT_ETC_DIR": root + "/etc", "GSETTINGS_BACKEND": "keyfile",
            "HTTPS_PROXY": "http://127.0.0.1:\(dead["env"]!)", "TT_PROXY_PASSWORD": RealProxies.testPassword,
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
        ]
        for arguments in [
            ["set", "org.gnome.system.proxy.https", "host", "127.0.0.1"],
            ["set", "org.gnome.system.proxy.https", "port", "\(dead["gnome"]!)"],
            ["set", "org.gnome.system.proxy", "mode", "manual"],
        ] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/gsettings")
            process.arguments = arguments
            process.environment = environment.merging(["HOME": root]) { $1 }
            try runWithNoSignalBlocked(process)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw E2EError("gsettings \(arguments) failed") }
        }
        return Lab(home: home, environment: environment, pacURL: pacURL, dead: dead)
    }

    /// A plain HTTP server (Python's) serving `directory` on a loopback port.
    static func startHTTPServer(directory: String) async throws -> (RunningProcess, Int) {
        let process = try RunningProcess(
            URL(fileURLWithPath: "/usr/bin/python3"),
            ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory]
        )
        try await process.waitForOutput(containing: "Serving HTTP on 127.0.0.1 port ")
        guard
            let port = try lineValue(process.outputSoFar, after: "port ")?.split(separator: " ").first.flatMap({
                Int($0)
            })
        else {
            await process.stop()
            throw E2EError("cannot read the HTTP server's port: \(process.outputSoFar)")
        }
        return (process, port)
    }

    @Test("doctor finds every source, names each in its row, recommends squid, and ends within --timeout")
    func lab() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let squid = try await RealSquid.start(authentication: .basic, hosts: [Self.serverName: "127.0.0.1"])
            defer { Task { await squid.stop() } }
            try await withStarted(ProxyProcess.start(scenario: "never-answers.scenario")) { hanging in
                let pacDirectory = home.file("pac")
                try Self.write(
                    "function FindProxyForURL(url, host) {\n  return \"PROXY \(hanging.address); "
                        + "PROXY 127.0.0.1:\(squid.port)\";\n}\n",
                    to: pacDirectory + "/proxy.pac"
                )
                let (http, pacPort) = try await Self.startHTTPServer(directory: pacDirectory)
                try await withStarted(http) { _ in
                    let lab = try Self.makeLab(squid: squid.port, hanging: hanging.port, pacPort: pacPort, home: home)
                    try await Self.checkDoctor(lab, server: server, squid: squid.port, hanging: hanging.port)
                    try await Self.checkSaved(lab, server: server, squid: squid.port)
                    try await Self.checkFailures(lab, server: server, squid: squid.port)
                }
            }
            await squid.stop()
        }
    }

    static func checkDoctor(_ lab: Lab, server: ServerProcess, squid: Int, hanging: Int) async throws {
        let target = "\(serverName):\(server.port)"
        let arguments = ["doctor", "--proxy-user", RealProxies.testUser, "--timeout", "\(timeout)", target]
        let started = ContinuousClock.now
        let result = try await tool(arguments, home: lab.home, environment: lab.environment)
        let wall = ContinuousClock.now - started
        let output = result.standardOutput
        #expect(result.status == 0, "\(result.allOutput)")
        // Within --timeout, plus the start of a process on a loaded machine.
        #expect(wall < .seconds(timeout + 2.5), "doctor took \(wall)")
        let squidURL = "http://127.0.0.1:\(squid)"
        let rows = output.split(separator: "\n").map(String.init)
        func row(_ proxy: String) -> String { rows.first { $0.contains(" \(proxy)  ") } ?? "" }
        // One row for squid, named by KDE and by the PAC's second entry from Firefox's autoconfig URL.
        #expect(row(squidURL).hasPrefix("✓"), "\(output)")
        #expect(row(squidURL).contains("KDE ("), "\(output)")
        #expect(row(squidURL).contains("PAC entry 2 of 2 from Firefox's autoconfig URL (profile lab.default)"))
        #expect(row("http://127.0.0.1:\(hanging)").hasPrefix("✗"))
        #expect(row("http://127.0.0.1:\(hanging)").contains("PAC entry 1 of 2"))
        #expect(row("http://127.0.0.1:\(hanging)").contains("exit 12"), "\(output)")
        for (name, source) in [
            ("env", "HTTPS_PROXY"), ("gnome", "GNOME (org.gnome.system.proxy.https)"),
            ("apt", "apt Acquire::https::Proxy"), ("etc", "/etc/environment https_proxy"), ("git", "git http.proxy"),
        ] {
            let line = row("http://127.0.0.1:\(lab.dead[name]!)")
            #expect(line.hasPrefix("✗") && line.contains("exit 3") && line.contains(source), "\(name): \(output)")
        }
        #expect(row("direct").hasPrefix("✗"), "\(output)")
        #expect(output.contains("recommended: \(squidURL)"), "\(output)")
        #expect(output.contains("flags:  tt-connect --proxy \(squidURL) --proxy-user \(RealProxies.testUser)"))
        #expect(output.contains("proxy = \(squidURL)"))
        #expect(!result.allOutput.contains(RealProxies.testPassword))

        let json = try await tool(arguments + ["--json"], home: lab.home, environment: lab.environment)
        #expect(json.status == 0, "\(json.allOutput)")
        let object = try jsonObject(json)
        let routes = object["routes"] as? [[String: Any]] ?? []
        #expect(routes.count == 8, "\(json.standardOutput)")
        for route in routes {
            for key in ["sources", "proxy", "pac_entry", "ok", "exit_code", "stage", "message", "elapsed_ms"] {
                #expect(route[key] != nil, "\(key) missing in \(route)")
            }
            #expect(!(route["sources"] as? [String] ?? []).isEmpty)
        }
        let recommended = object["recommended"] as? [String: Any]
        #expect(recommended?["proxy"] as? String == squidURL, "\(json.standardOutput)")

        // The figure for BENCHMARKS.md: the doctor's wall time against the candidates one by one.
        var oneByOne = Duration.zero
        for route in routes {
            let via = (route["proxy"] as? String).map { ["--proxy", $0] } ?? ["--no-proxy"]
            let started = ContinuousClock.now
            _ = try await tool(
                via + ["--proxy-user", RealProxies.testUser, "--timeout", "\(timeout)", target],
                home: lab.home,
                environment: lab.environment
            )
            oneByOne += ContinuousClock.now - started
        }
        print("doctor: \(routes.count) candidates in \(wall); one by one: \(oneByOne)")
    }

    /// `--save-connection` in this lab saves the recommended route (squid, its user, a proxy-password file); the
    /// entry then works with the environment emptied: no HTTPS_PROXY, no desktop settings, no password variable.
    static func checkSaved(_ lab: Lab, server: ServerProcess, squid: Int) async throws {
        let config = lab.home.file("saved-config")
        let saved = try await tool(
            [
                "doctor", "--proxy-user", RealProxies.testUser, "--timeout", "\(timeout)", "--config", config,
                "--save-connection", "lab", "\(serverName):\(server.port)",
            ],
            home: lab.home,
            environment: lab.environment
        )
        #expect(saved.status == 0, "\(saved.allOutput)")
        #expect(saved.standardOutput.contains("saved connection lab in \(config)"), "\(saved.standardOutput)")
        let text = try String(contentsOfFile: config, encoding: .utf8)
        #expect(text.contains("server = \(serverName)\nport = \(server.port)\n"), "\(text)")
        #expect(text.contains("proxy = http://127.0.0.1:\(squid)\n"), "\(text)")
        #expect(text.contains("proxy-user = \(RealProxies.testUser)\n"), "\(text)")
        #expect(!text.contains(RealProxies.testPassword), "\(text)")
        let check = try await runProcess(
            BuiltProducts.executable("tt-connect"),
            ["--config", config, "--connection", "lab"],
            inheritingEnvironment: false
        )
        #expect(check.status == 0, "\(check.allOutput)")
        #expect(check.standardOutput.contains("through proxy http://127.0.0.1:\(squid)"), "\(check.standardOutput)")
    }

    /// Every failure of check names its route's source and points to the doctor; a PAC entry that never
    /// answers the CONNECT fails over to the next.
    static func checkFailures(_ lab: Lab, server: ServerProcess, squid: Int) async throws {
        let target = "\(serverName):\(server.port)"
        let dead = "http://127.0.0.1:\(lab.dead["env"]!)"
        let viaEnvironment = try await tool(["--json", target], home: lab.home, environment: lab.environment)
        #expect(viaEnvironment.status == 3, "\(viaEnvironment.allOutput)")
        let object = try jsonObject(viaEnvironment)
        let message = object["message"] as? String ?? ""
        #expect(message.contains("\(dead) (from HTTPS_PROXY)"), "\(message)")
        #expect(message.hasSuffix("run `tt-connect doctor` to try every route this machine offers"), "\(message)")
        #expect(object["proxy"] as? String == dead)

        let pac = try await tool(
            [
                "--proxy-pac", lab.pacURL, "--proxy-user", RealProxies.testUser, "--timeout", "\(timeout)", "--json",
                target,
            ],
            home: lab.home,
            environment: lab.environment
        )
        #expect(pac.status == 0, "\(pac.allOutput)")
        let answer = try jsonObject(pac)
        #expect(answer["proxy"] as? String == "http://127.0.0.1:\(squid)", "\(pac.standardOutput)")
        #expect((answer["pac_entry"] as? String)?.hasPrefix("PAC entry 2 of 2 from \(lab.pacURL)") == true)
        #expect(pac.standardOutput.contains("did not answer the CONNECT"), "\(pac.standardOutput)")

        let unreachable = try await tool(
            ["--proxy-pac", "http://127.0.0.1:\(lab.dead["git"]!)/proxy.pac", target],
            home: lab.home,
            environment: lab.environment
        )
        #expect(unreachable.status == 3, "\(unreachable.allOutput)")
        // Typed on the command line and still pointed to the doctor: the PAC the user knew does not answer.
        #expect(unreachable.standardError.contains("(from --proxy-pac)"), "\(unreachable.standardError)")
        #expect(unreachable.standardError.contains("tt-connect doctor"), "\(unreachable.standardError)")
    }
}
