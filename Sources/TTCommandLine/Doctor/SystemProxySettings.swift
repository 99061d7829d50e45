import FoundationEssentials
import Glibc
import TTBasics

/// A proxy setting found on the machine, before it is parsed: what it says and who says it.
struct FoundProxySetting: Sendable, Hashable {
    enum Value: Sendable, Hashable {
        /// A proxy, as the source wrote it (`http://host:port`, `host:port`).
        case proxy(String)
        /// A proxy auto-configuration script's location (file or URL).
        case pac(String)
    }

    var value: Value
    /// Who names it, as the doctor's row shows it: `HTTPS_PROXY`, `GNOME (org.gnome.system.proxy.https)`, …
    var source: String
}

/// Where the system and desktop settings live. Each location is overridable so tests (and users who want to
/// know what tt-connect would read) can point it elsewhere; docs/CONFIG.md lists them.
struct ProxySettingLocations: Sendable {
    /// The environment the doctor was started with (the variables, `PATH` for the tools, and the overrides).
    var environment: [String: String]
    /// `HOME`: Firefox profiles (`.mozilla/firefox`), `.gitconfig`.
    var home: String
    /// `XDG_CONFIG_HOME`, else `HOME/.config`: KDE's `kioslaverc`.
    var configHome: String
    /// `TT_CONNECT_ETC_DIR`, else `/etc`: `environment`, `apt/`, Chromium's and Chrome's managed policies.
    var etc: String

    init(environment: [String: String]) {
        self.environment = environment
        home = FilePathText.homeDirectory(environment: environment)
        configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        etc = environment["TT_CONNECT_ETC_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/etc"
    }
}

/// Reads, read-only, the proxy settings a machine publishes: environment variables, GNOME (`gsettings`), KDE,
/// Firefox, Chromium/Chrome policies, `/etc/environment`, apt and git. Every file read is capped in size and
/// every tool run in time, since any of them may be hostile or broken; what cannot be read is passed over.
enum SystemProxySettings {
    /// At most this much of a settings file is read (a prefs.js of a heavily used profile is a few hundred KiB).
    static let fileSizeLimit = 4 * 1024 * 1024
    /// Said of settings for `http://` URLs only: `check` does not use them, the doctor tries them anyway.
    static let httpOnlyNote = "check does not use it: it applies to http:// only"

    /// Every setting of every source, in the order the doctor lists sources.
    static func all(_ locations: ProxySettingLocations, toolTimeout: Duration) -> [FoundProxySetting] {
        environmentVariables(locations.environment) + gnome(locations, timeout: toolTimeout) + kde(locations)
            + firefox(locations) + chromium(locations) + etcEnvironment(locations) + apt(locations)
            + git(locations, timeout: toolTimeout)
    }

    /// `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `all_proxy` (what check uses), `HTTP_PROXY`, `http_proxy`.
    static func environmentVariables(_ environment: [String: String]) -> [FoundProxySetting] {
        variables(environment, source: { $0 })
    }

    private static func variables(
        _ values: [String: String],
        source: (String) -> String
    ) -> [FoundProxySetting] {
        let names = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"]
        return names.compactMap { name in
            guard let value = values[name].map({ String($0.trimmingWhitespace()) }), !value.isEmpty else { return nil }
            let label = source(name) + (name.lowercased() == "http_proxy" ? " (\(httpOnlyNote))" : "")
            return FoundProxySetting(value: .proxy(value), source: label)
        }
    }

    /// GNOME's `org.gnome.system.proxy` through `gsettings` (whatever backend the session uses: dconf, or
    /// `GSETTINGS_BACKEND=keyfile`), read in one `list-recursively` call.
    static func gnome(_ locations: ProxySettingLocations, timeout: Duration) -> [FoundProxySetting] {
        guard
            let text = BoundedSubprocess.output(
                "gsettings",
                ["list-recursively", "org.gnome.system.proxy"],
                environment: locations.environment,
                timeout: timeout
            )
        else { return [] }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2)
            guard words.count == 3 else { continue }
            values["\(words[0]) \(words[1])"] = String(words[2].trimming { $0 == "'" })
        }
        switch values["org.gnome.system.proxy mode"] {
        case "auto":
            guard let url = values["org.gnome.system.proxy autoconfig-url"], !url.isEmpty else { return [] }
            return [FoundProxySetting(value: .pac(url), source: "GNOME's autoconfig URL (org.gnome.system.proxy)")]
        case "manual":
            return ["https", "http"].compactMap { kind in
                let schema = "org.gnome.system.proxy.\(kind)"
                guard let host = values["\(schema) host"], !host.isEmpty,
                    let port = values["\(schema) port"].flatMap({ Int($0) }), port > 0
                else { return nil }
                let note = kind == "http" ? " (\(httpOnlyNote))" : ""
                return FoundProxySetting(value: .proxy(hostPort(host, port)), source: "GNOME (\(schema))\(note)")
            }
        default:
            return []
        }
    }

    /// KDE's `kioslaverc`, `[Proxy Settings]`: `ProxyType` 1 (manual: `httpsProxy`, `httpProxy`) or 2
    /// (`Proxy Config Script`).
    static func kde(_ locations: ProxySettingLocations) -> [FoundProxySetting] {
        let path = locations.configHome + "/kioslaverc"
        guard let text = readSmallFile(path) else { return [] }
        var section = ""
        var values: [String: String] = [:]
        for rawLine in text.split(separator: "\n") {
            let line = String(rawLine.trimmingWhitespace())
            if line.hasPrefix("[") {
                section = line
                continue
            }
            guard section == "[Proxy Settings]", let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals].trimmingWhitespace())] = String(
                line[line.index(after: equals)...].trimmingWhitespace()
            )
        }
        switch values["ProxyType"] {
        case "1":
            return [("httpsProxy", ""), ("httpProxy", " (\(httpOnlyNote))")].compactMap { key, note in
                guard let value = values[key], !value.isEmpty else { return nil }
                // KDE writes "http://host port" (a space before the port); older versions "http://host:port".
                let words = value.split(separator: " ")
                let proxy = words.count == 2 && Int(words[1]) != nil ? "\(words[0]):\(words[1])" : value
                return FoundProxySetting(value: .proxy(proxy), source: "KDE (\(path) \(key))\(note)")
            }
        case "2":
            guard let url = values["Proxy Config Script"], !url.isEmpty else { return [] }
            return [FoundProxySetting(value: .pac(url), source: "KDE's proxy config script (\(path))")]
        default:
            return []
        }
    }

    /// Firefox: `prefs.js` of each profile under `HOME/.mozilla/firefox/`; `network.proxy.type` 1 (manual:
    /// `ssl`/`ssl_port`, `http`/`http_port`) or 2 (`autoconfig_url`).
    static func firefox(_ locations: ProxySettingLocations) -> [FoundProxySetting] {
        let root = locations.home + "/.mozilla/firefox"
        let profiles = (try? FileManager.default.contentsOfDirectory(atPath: root))?.sorted() ?? []
        var found: [FoundProxySetting] = []
        for profile in profiles.prefix(64) {
            guard let text = readSmallFile("\(root)/\(profile)/prefs.js") else { continue }
            let prefs = firefoxPrefs(text)
            switch prefs["network.proxy.type"] {
            case "1":
                for (key, note) in [("ssl", ""), ("http", " (\(httpOnlyNote))")] {
                    guard let host = prefs["network.proxy.\(key)"], !host.isEmpty,
                        let port = prefs["network.proxy.\(key)_port"].flatMap({ Int($0) }), port > 0
                    else { continue }
                    found.append(
                        FoundProxySetting(
                            value: .proxy(hostPort(host, port)),
                            source: "Firefox profile \(profile) (network.proxy.\(key))\(note)"
                        )
                    )
                }
            case "2":
                if let url = prefs["network.proxy.autoconfig_url"], !url.isEmpty {
                    found.append(
                        FoundProxySetting(value: .pac(url), source: "Firefox's autoconfig URL (profile \(profile))")
                    )
                }
            default:
                continue
            }
        }
        return found
    }

    /// `user_pref("name", value);` lines, string values unquoted.
    static func firefoxPrefs(_ text: String) -> [String: String] {
        var prefs: [String: String] = [:]
        for rawLine in text.split(separator: "\n") {
            let line = String(rawLine.trimmingWhitespace())
            guard line.hasPrefix("user_pref(\""), line.hasSuffix(");") else { continue }
            let inner = line.dropFirst("user_pref(\"".count).dropLast(2)
            guard let close = inner.firstIndex(of: "\"") else { continue }
            let name = String(inner[..<close])
            var value = String(inner[inner.index(after: close)...].trimmingWhitespace())
            guard value.hasPrefix(",") else { continue }
            value = String(value.dropFirst().trimmingWhitespace())
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            prefs[name] = value
        }
        return prefs
    }

    /// Chromium's and Chrome's managed policies (`ETC/chromium/policies/managed/*.json`,
    /// `ETC/opt/chrome/policies/managed/*.json`): `ProxyMode` `fixed_servers` (`ProxyServer`) or `pac_script`
    /// (`ProxyPacUrl`).
    static func chromium(_ locations: ProxySettingLocations) -> [FoundProxySetting] {
        var found: [FoundProxySetting] = []
        for (browser, directory) in [
            ("Chromium", locations.etc + "/chromium/policies/managed"),
            ("Chrome", locations.etc + "/opt/chrome/policies/managed"),
        ] {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted() ?? []
            for file in files.prefix(64) where file.hasSuffix(".json") {
                let path = "\(directory)/\(file)"
                guard let text = readSmallFile(path),
                    let policy = try? JSONDecoder().decode(ChromiumProxyPolicy.self, from: Data(text.utf8))
                else { continue }
                let mode = policy.proxyMode
                if let url = policy.proxyPacURL, !url.isEmpty, mode == nil || mode == "pac_script" {
                    found.append(FoundProxySetting(value: .pac(url), source: "\(browser) policy ProxyPacUrl (\(path))"))
                }
                if let server = policy.proxyServer, mode == nil || mode == "fixed_servers" {
                    for proxy in chromiumServers(server) {
                        found.append(
                            FoundProxySetting(value: .proxy(proxy), source: "\(browser) policy ProxyServer (\(path))")
                        )
                    }
                }
            }
        }
        return found
    }

    /// `host:port`, or the per-scheme form `https=host:port;http=host:port` (the https one first).
    static func chromiumServers(_ text: String) -> [String] {
        let parts = text.split(separator: ";").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
        guard parts.contains(where: { $0.contains("=") }) else { return parts }
        let byScheme = parts.compactMap { part -> (String, String)? in
            guard let equals = part.firstIndex(of: "=") else { return nil }
            return (String(part[..<equals]).lowercased(), String(part[part.index(after: equals)...]))
        }
        return (byScheme.filter { $0.0 == "https" } + byScheme.filter { $0.0 == "http" }).map(\.1)
    }

    /// `ETC/environment` (pam_env's `KEY=VALUE` lines, values optionally quoted).
    static func etcEnvironment(_ locations: ProxySettingLocations) -> [FoundProxySetting] {
        let path = locations.etc + "/environment"
        guard let text = readSmallFile(path) else { return [] }
        var values: [String: String] = [:]
        for rawLine in text.split(separator: "\n") {
            var line = String(rawLine.trimmingWhitespace())
            if line.hasPrefix("export ") { line = String(line.dropFirst("export ".count)) }
            guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(
                line[line.index(after: equals)...].trimming { "\"' ".contains($0) }
            )
        }
        return variables(values, source: { "\(path) \($0)" })
    }

    /// apt's `Acquire::https::Proxy` and `Acquire::http::Proxy` in `ETC/apt/apt.conf` and `ETC/apt/apt.conf.d/*`.
    static func apt(_ locations: ProxySettingLocations) -> [FoundProxySetting] {
        let directory = locations.etc + "/apt/apt.conf.d"
        let parts = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.sorted() ?? []
        var found: [FoundProxySetting] = []
        for path in [locations.etc + "/apt/apt.conf"] + parts.prefix(256).map({ "\(directory)/\($0)" }) {
            guard let text = readSmallFile(path) else { continue }
            for rawLine in text.split(separator: "\n") {
                let line = String(rawLine.trimmingWhitespace())
                for (key, note) in [("acquire::https::proxy", ""), ("acquire::http::proxy", " (\(httpOnlyNote))")] {
                    guard line.lowercased().hasPrefix(key + " ") || line.lowercased().hasPrefix(key + "\"") else {
                        continue
                    }
                    let value = String(line.dropFirst(key.count).trimming { " \";".contains($0) })
                    // "DIRECT" and "false" switch the proxy off.
                    guard !value.isEmpty, value.uppercased() != "DIRECT", value.lowercased() != "false" else {
                        continue
                    }
                    let name = key == "acquire::https::proxy" ? "Acquire::https::Proxy" : "Acquire::http::Proxy"
                    found.append(FoundProxySetting(value: .proxy(value), source: "apt \(name) (\(path))\(note)"))
                }
            }
        }
        return found
    }

    /// git's `http.proxy` (it applies to https:// too): `git config --global --get http.proxy`, or, without
    /// git, the `[http] proxy` of `HOME/.gitconfig`.
    static func git(_ locations: ProxySettingLocations, timeout: Duration) -> [FoundProxySetting] {
        var environment = locations.environment
        environment["HOME"] = locations.home
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        var value = BoundedSubprocess.output(
            "git",
            ["config", "--global", "--get", "http.proxy"],
            environment: environment,
            timeout: timeout
        )
        if value == nil, let text = readSmallFile(locations.home + "/.gitconfig") {
            var section = ""
            for rawLine in text.split(separator: "\n") {
                let line = String(rawLine.trimmingWhitespace())
                if line.hasPrefix("[") { section = line.lowercased() }
                let words = line.split(separator: "=", maxSplits: 1).map { String($0.trimmingWhitespace()) }
                if section == "[http]", words.count == 2, words[0].lowercased() == "proxy" {
                    value = String(words[1].trimming { $0 == "\"" })
                }
            }
        }
        guard let value, !value.isEmpty else { return [] }
        return [FoundProxySetting(value: .proxy(value), source: "git http.proxy")]
    }

    /// `host:port`, with brackets around an IPv6 address.
    private static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The file's text when it is a regular file of at most ``fileSizeLimit`` bytes (never a FIFO or device,
    /// which could block or never end).
    static func readSmallFile(_ path: String) -> String? {
        // O_NONBLOCK: a FIFO in its place must not block the open; fstat then refuses anything but a regular file.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size <= fileSizeLimit
        else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var count = 0
        while count < bytes.count {
            let read = bytes.withUnsafeMutableBytes {
                Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count)
            }
            if read < 0, errno == EINTR { continue }
            guard read > 0 else { break }
            count += read
        }
        return String(decoding: bytes.prefix(count), as: UTF8.self)
    }
}

/// The proxy keys of a Chromium or Chrome policy file; other keys, and these with another type, are ignored.
private struct ChromiumProxyPolicy: Decodable {
    var proxyMode: String?
    var proxyPacURL: String?
    var proxyServer: String?

    private enum CodingKeys: String, CodingKey {
        case proxyMode = "ProxyMode"
        case proxyPacURL = "ProxyPacUrl"
        case proxyServer = "ProxyServer"
    }

    init(from decoder: any Decoder) throws {
        let object = try decoder.container(keyedBy: CodingKeys.self)
        proxyMode = try? object.decodeIfPresent(String.self, forKey: .proxyMode)
        proxyPacURL = try? object.decodeIfPresent(String.self, forKey: .proxyPacURL)
        proxyServer = try? object.decodeIfPresent(String.self, forKey: .proxyServer)
    }
}
