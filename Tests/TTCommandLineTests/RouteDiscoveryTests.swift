import Foundation
import TTTestSupport
import TTTransport
import Testing

@testable import TTCommandLine

/// The doctor's sources, read from a fake home and /etc (every location overridable), and merged into routes.
@Suite("Route discovery")
struct RouteDiscoveryTests {
    /// A temporary home with `.config` and an `etc` directory, removed afterwards.
    final class Lab {
        let root: String

        init() throws {
            root =
                FileManager.default.temporaryDirectory.appendingPathComponent(
                    "tt-doctor-\(UUID().uuidString.prefix(8))"
                )
                .path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }

        func write(_ relative: String, _ text: String) throws {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        var environment: [String: String] {
            [
                "HOME": root + "/home", "XDG_CONFIG_HOME": root + "/home/.config", "TT_CONNECT_ETC_DIR": root + "/etc",
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "GSETTINGS_BACKEND": "keyfile",
            ]
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test("every file source is read, each setting labelled with where it came from")
    func fileSources() throws {
        let lab = try Lab()
        try lab.write(
            "home/.config/kioslaverc",
            "[Proxy Settings]\nProxyType=1\nhttpsProxy=http://127.0.0.1 4101\nhttpProxy=http://127.0.0.1:4102\n"
        )
        try lab.write(
            "home/.mozilla/firefox/ab12.default/prefs.js",
            "user_pref(\"network.proxy.type\", 2);\nuser_pref(\"network.proxy.autoconfig_url\", \"http://127.0.0.1:4103/p.pac\");\n"
        )
        try lab.write(
            "home/.mozilla/firefox/cd34.work/prefs.js",
            "user_pref(\"network.proxy.ssl\", \"127.0.0.1\");\nuser_pref(\"network.proxy.ssl_port\", 4104);\n"
                + "user_pref(\"network.proxy.type\", 1);\n"
        )
        try lab.write(
            "etc/chromium/policies/managed/proxy.json",
            "{\"ProxyMode\": \"fixed_servers\", \"ProxyServer\": \"http=127.0.0.1:4106;https=127.0.0.1:4105\"}"
        )
        try lab.write("etc/environment", "PATH=\"/usr/bin\"\nhttps_proxy=\"http://127.0.0.1:4107\"\n")
        try lab.write("etc/apt/apt.conf.d/80proxy", "Acquire::https::Proxy \"http://127.0.0.1:4108\";\n")
        try lab.write("home/.gitconfig", "[http]\n\tproxy = http://127.0.0.1:4109\n")
        let locations = ProxySettingLocations(environment: lab.environment)
        let found =
            SystemProxySettings.kde(locations) + SystemProxySettings.firefox(locations)
            + SystemProxySettings.chromium(locations) + SystemProxySettings.etcEnvironment(locations)
            + SystemProxySettings.apt(locations) + SystemProxySettings.git(locations, timeout: .seconds(5))
        let described = found.map { setting -> String in
            switch setting.value {
            case .proxy(let proxy): "\(proxy) <- \(setting.source)"
            case .pac(let url): "PAC \(url) <- \(setting.source)"
            }
        }
        let root = lab.root
        #expect(
            described == [
                "http://127.0.0.1:4101 <- KDE (\(root)/home/.config/kioslaverc httpsProxy)",
                "http://127.0.0.1:4102 <- KDE (\(root)/home/.config/kioslaverc httpProxy) "
                    + "(check does not use it: it applies to http:// only)",
                "PAC http://127.0.0.1:4103/p.pac <- Firefox's autoconfig URL (profile ab12.default)",
                "127.0.0.1:4104 <- Firefox profile cd34.work (network.proxy.ssl)",
                "127.0.0.1:4105 <- Chromium policy ProxyServer (\(root)/etc/chromium/policies/managed/proxy.json)",
                "127.0.0.1:4106 <- Chromium policy ProxyServer (\(root)/etc/chromium/policies/managed/proxy.json)",
                "http://127.0.0.1:4107 <- \(root)/etc/environment https_proxy",
                "http://127.0.0.1:4108 <- apt Acquire::https::Proxy (\(root)/etc/apt/apt.conf.d/80proxy)",
                "http://127.0.0.1:4109 <- git http.proxy",
            ],
            "\(described)"
        )
    }

    @Test("GNOME's settings are read through gsettings (keyfile backend)")
    func gnome() throws {
        let lab = try Lab()
        let tool = "/usr/bin/gsettings"
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            Issue.record("gsettings (Debian's libglib2.0-bin) is not installed")
            return
        }
        for arguments in [
            ["set", "org.gnome.system.proxy.https", "host", "127.0.0.1"],
            ["set", "org.gnome.system.proxy.https", "port", "4110"],
            ["set", "org.gnome.system.proxy", "mode", "manual"],
        ] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            process.environment = lab.environment
            try runWithNoSignalBlocked(process)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let found = SystemProxySettings.gnome(ProxySettingLocations(environment: lab.environment), timeout: .seconds(5))
        #expect(
            found == [
                FoundProxySetting(value: .proxy("127.0.0.1:4110"), source: "GNOME (org.gnome.system.proxy.https)")
            ]
        )
    }

    @Test("the same proxy from several sources is one candidate naming all; HTTPS_PROXY is the configured one")
    func merging() {
        let candidates = RouteDiscovery.candidates(
            target: Endpoint(host: "framework.example", port: 5000),
            explicit: RouteDiscovery.Explicit(),
            settings: SystemProxySettings.environmentVariables([
                "HTTPS_PROXY": "http://127.0.0.1:4111", "http_proxy": "127.0.0.1:4111", "ALL_PROXY": "socks5://h:1",
            ]),
            environment: [:],
            deadline: .after(.seconds(5))
        )
        #expect(candidates.map(\.routeText) == ["http://127.0.0.1:4111", "none", "direct"])
        #expect(
            candidates[0].sources == [
                "HTTPS_PROXY", "http_proxy (check does not use it: it applies to http:// only)",
            ]
        )
        #expect(candidates[0].isConfigured)
        #expect(!candidates[2].isConfigured)
        guard case .unusable(let code, _, let message) = candidates[1].way else {
            Issue.record("ALL_PROXY=socks5:// should be an unusable row")
            return
        }
        #expect(code == 2)
        #expect(message.hasPrefix("ALL_PROXY: "), "\(message)")
    }
}
