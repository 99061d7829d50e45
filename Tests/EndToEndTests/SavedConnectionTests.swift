import Foundation
import TTTestSupport
import Testing

/// `check --save-connection`, `setup` on a real pseudo-terminal, `connections` and `setup --remove`, against a
/// real tt-server (and tt-proxy) on loopback.
@Suite("Saved connections")
struct SavedConnectionTests {
    static let authFile = BuiltProducts.packageRoot.appendingPathComponent("proxy-fixtures/htpasswd").path
    static let proxyPassword = "secret"

    static let otherSections = """
        # Written by hand; tt-connect must keep this.
        [connection mine]
        server   =   hand.example
        ; a semicolon comment

        """

    static func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    @Test("--save-connection writes an entry that then works with an empty environment; other lines survive")
    func saveThenUseWithEmptyEnvironment() async throws {
        let home = try TemporaryDirectory()
        let config = home.file("tt/config")
        try FileManager.default.createDirectory(atPath: home.file("tt"), withIntermediateDirectories: true)
        try Self.otherSections.write(toFile: config, atomically: true, encoding: .utf8)
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start(["--auth-file", Self.authFile])) { proxy in
                let saved = try await tool(
                    [
                        "check", "--config", config, "--save-connection", "office", "-S",
                        "\(serverUser)@\(server.address)", "--proxy", proxy.address, "--proxy-user", "alice",
                    ],
                    home: home,
                    environment: ["TT_PASSWORD": serverPassword, "TT_PROXY_PASSWORD": Self.proxyPassword]
                )
                #expect(saved.status == 0, "\(saved.allOutput)")
                #expect(saved.standardOutput.contains("saved connection office in \(config)"))
                let text = try String(contentsOfFile: config, encoding: .utf8)
                #expect(text.hasPrefix(Self.otherSections), "\(text)")
                #expect(text.contains("[connection office]\nserver = 127.0.0.1\nport = \(server.port)\nuser = fred\n"))
                #expect(text.contains("proxy = http://\(proxy.address)\n"))
                #expect(text.contains("proxy-user = alice\n"))
                #expect(text.contains("server-key = \(server.fingerprint)\n"))
                #expect(!text.contains(serverPassword) && !text.contains(Self.proxyPassword), "\(text)")
                for file in ["tt/config", "tt/office.password", "tt/office.proxy-password"] {
                    #expect(try Self.mode(home.file(file)) == 0o600, "\(file)")
                }

                // Nothing from the test's environment: no HOME, no PATH, no password variables.
                let check = try await runProcess(
                    BuiltProducts.executable("tt-connect"),
                    ["--config", config, "--connection", "office"],
                    inheritingEnvironment: false
                )
                #expect(check.status == 0, "\(check.allOutput)")
                #expect(check.standardOutput.contains("✓ login"), "\(check.standardOutput)")
                #expect(check.standardOutput.contains("through proxy http://\(proxy.address)"))
                let ping = try await runProcess(
                    BuiltProducts.executable("tt-ping"),
                    ["-c", "1", "--config", config, "--connection", "office"],
                    inheritingEnvironment: false
                )
                #expect(ping.status == 0, "\(ping.allOutput)")
                #expect(ping.standardOutput.contains("1 packets transmitted, 1 received"), "\(ping.standardOutput)")
            }
        }
    }

    @Test("doctor --save-connection writes the recommended route; it then works with an empty environment")
    func doctorSaves() async throws {
        let home = try TemporaryDirectory()
        let config = home.file("config")
        try await withStarted(ServerProcess.start()) { server in
            let doctor = try await tool(
                ["doctor", server.address, "-S", serverUser, "--config", config, "--save-connection", "lab"],
                home: home,
                environment: ["TT_PASSWORD": serverPassword]
            )
            #expect(doctor.status == 0, "\(doctor.allOutput)")
            #expect(doctor.standardOutput.contains("saved connection lab in \(config)"), "\(doctor.standardOutput)")
            let text = try String(contentsOfFile: config, encoding: .utf8)
            #expect(text.contains("[connection lab]\nserver = 127.0.0.1\nport = \(server.port)\nuser = fred\n"))
            #expect(text.contains("server-key = \(server.fingerprint)\n"), "\(text)")
            #expect(!text.contains(serverPassword))
            let check = try await runProcess(
                BuiltProducts.executable("tt-connect"),
                ["--config", config, "--connection", "lab"],
                inheritingEnvironment: false
            )
            #expect(check.status == 0, "\(check.allOutput)")
            #expect(check.standardOutput.contains("✓ login"), "\(check.standardOutput)")
        }
    }

    @Test("setup on a terminal creates an entry, edits it, connections lists it, setup --remove deletes it")
    func setupOnATerminal() async throws {
        let home = try TemporaryDirectory()
        let config = home.file("config")
        try Self.otherSections.write(toFile: config, atomically: true, encoding: .utf8)
        let environment = ["HOME": home.path, "PATH": "/usr/bin:/bin"]
        try await withStarted(ServerProcess.start()) { server in
            let create = try TerminalSession(
                BuiltProducts.executable("tt-connect"),
                ["setup", "lab", "--config", config],
                environment: environment
            )
            var at = try await create.waitFor("Server: ")
            try create.type("127.0.0.1")
            at = try await create.waitFor("Port [5000]: ", after: at)
            try create.type(String(server.port))
            at = try await create.waitFor("User: ", after: at)
            try create.type(serverUser)
            at = try await create.waitFor("Password: ", after: at)
            try create.type(serverPassword)
            at = try await create.waitFor("Password again: ", after: at)
            try create.type(serverPassword)
            // The doctor's rows, drawn live on the terminal, then the working routes as a numbered choice.
            at = try await create.waitFor("(tt-connect doctor):", after: at)
            at = try await create.waitFor("✓ direct  ", after: at)
            at = try await create.waitFor("Routes that work:", after: at)
            at = try await create.waitFor("1) direct  ", after: at)
            at = try await create.waitFor("(recommended)", after: at)
            at = try await create.waitFor("Route to save [1]: ", after: at)
            try create.type("")
            #expect(try await create.finish() == 0, "\(create.screen)")
            #expect(create.screen.contains("✓ login"), "\(create.screen)")
            // The doctor's rows were redrawn in place on the terminal.
            #expect(create.screen.contains("\u{1B}[2K"), "\(create.screen)")
            #expect(create.screen.contains("tt-ping --config \(config) --connection lab"), "\(create.screen)")
            #expect(!create.screen.contains(serverPassword), "the password was echoed: \(create.screen)")
            var text = try String(contentsOfFile: config, encoding: .utf8)
            #expect(text.hasPrefix(Self.otherSections))
            #expect(text.contains("[connection lab]\nserver = 127.0.0.1\nport = \(server.port)\nuser = fred\n"))
            #expect(text.contains("password-file = lab.password\n"))
            #expect(text.contains("server-key = \(server.fingerprint)\n"))
            #expect(!text.contains(serverPassword))
            #expect(try Self.mode(home.file("lab.password")) == 0o600)

            // Editing: the current values are the defaults; Enter keeps them, the password too.
            let edit = try TerminalSession(
                BuiltProducts.executable("tt-connect"),
                ["setup", "lab", "--config", config],
                environment: environment
            )
            at = try await edit.waitFor("Editing connection lab.")
            at = try await edit.waitFor("Server [127.0.0.1]: ", after: at)
            try edit.type("")
            at = try await edit.waitFor("Port [\(server.port)]: ", after: at)
            try edit.type("")
            at = try await edit.waitFor("User [fred]: ", after: at)
            try edit.type("")
            at = try await edit.waitFor("Password (Enter keeps the saved one): ", after: at)
            try edit.type("")
            at = try await edit.waitFor("✓ direct  ", after: at)
            at = try await edit.waitFor("Route to save [1]: ", after: at)
            try edit.type("1")
            #expect(try await edit.finish() == 0, "\(edit.screen)")
            text = try String(contentsOfFile: config, encoding: .utf8)
            #expect(text.components(separatedBy: "[connection lab]").count == 2, "\(text)")
            #expect(text.contains("user = fred\npassword-file = lab.password\n"), "\(text)")

            let list = try await tool(["connections", "--config", config], home: home)
            #expect(list.status == 0, "\(list.allOutput)")
            let row = list.standardOutput.split(separator: "\n").first { $0.hasPrefix("lab ") }
            #expect(row?.contains("127.0.0.1:\(server.port)") == true, "\(list.standardOutput)")
            #expect(row?.hasSuffix("yes") == true, "\(list.standardOutput)")
            #expect(list.standardOutput.contains("mine "))

            let remove = try await tool(["setup", "--remove", "lab", "--config", config], home: home)
            #expect(remove.status == 0, "\(remove.allOutput)")
            #expect(!FileManager.default.fileExists(atPath: home.file("lab.password")))
            text = try String(contentsOfFile: config, encoding: .utf8)
            #expect(text == Self.otherSections, "\(text)")
        }
    }

    @Test("setup editing a connection with a PAC: the doctor's rows name the PAC entry, recommended; the PAC stays")
    func setupKeepsOwnPAC() async throws {
        let home = try TemporaryDirectory()
        let config = home.file("config")
        let environment = ["HOME": home.path, "PATH": "/usr/bin:/bin", "TT_CONNECT_ETC_DIR": home.path]
        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start()) { proxy in
                let pac = home.file("office.pac")
                try "function FindProxyForURL(url, host) { return \"PROXY \(proxy.address)\"; }\n".write(
                    toFile: pac,
                    atomically: true,
                    encoding: .utf8
                )
                try "[connection lab]\nserver = 127.0.0.1\nport = \(server.port)\nproxy-pac = \(pac)\n".write(
                    toFile: config,
                    atomically: true,
                    encoding: .utf8
                )
                let edit = try TerminalSession(
                    BuiltProducts.executable("tt-connect"),
                    ["setup", "lab", "--config", config],
                    environment: environment
                )
                var at = try await edit.waitFor("Server [127.0.0.1]: ")
                try edit.type("")
                at = try await edit.waitFor("Port [\(server.port)]: ", after: at)
                try edit.type("")
                at = try await edit.waitFor("User: ", after: at)
                try edit.type(serverUser)
                at = try await edit.waitFor("Password: ", after: at)
                try edit.type(serverPassword)
                at = try await edit.waitFor("Password again: ", after: at)
                try edit.type(serverPassword)
                // The entry of its own PAC is what check would use: recommended, and the default.
                at = try await edit.waitFor("✓ http://\(proxy.address)  ", after: at)
                at = try await edit.waitFor("Routes that work:", after: at)
                let choice = try await edit.waitFor("Route to save [", after: at)
                let offered = String(edit.screen.dropFirst(at).prefix(choice - at))
                let line = offered.split(whereSeparator: \.isNewline).first { $0.contains("(recommended)") } ?? ""
                #expect(line.contains("http://\(proxy.address)") && line.contains("PAC entry 1 of 1"), "\(offered)")
                try await edit.waitFor("]: ", after: choice)
                try edit.type("")
                #expect(try await edit.finish() == 0, "\(edit.screen)")
                #expect(edit.screen.contains("through proxy http://\(proxy.address)"), "\(edit.screen)")
                let text = try String(contentsOfFile: config, encoding: .utf8)
                // Beside the config file, so written relative to it.
                #expect(text.contains("proxy-pac = office.pac\n"), "\(text)")
                #expect(!text.contains("proxy = "), "the PAC was replaced by its proxy: \(text)")
                #expect(text.contains("server-key = \(server.fingerprint)\n"), "\(text)")
            }
        }
    }

    @Test("setup without a terminal says so and names the non-interactive way, exit 2")
    func setupWithoutTerminal() async throws {
        let home = try TemporaryDirectory()
        // setsid: a new session has no controlling terminal, whatever the test runner has.
        let result = try await runProcess(
            URL(fileURLWithPath: "/usr/bin/setsid"),
            ["--wait", BuiltProducts.executable("tt-connect").path, "setup", "lab", "--config", home.file("config")],
            environment: ["HOME": home.path],
            inheritingEnvironment: false
        )
        #expect(result.status == 2, "\(result.allOutput)")
        #expect(result.standardError.contains("terminal"), "\(result.standardError)")
        #expect(result.standardError.contains("--save-connection NAME"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: home.file("config")))
    }
}
