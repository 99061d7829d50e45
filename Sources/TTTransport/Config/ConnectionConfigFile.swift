import FoundationEssentials
import TTBasics

/// A parsed config file (format in docs/CONFIG.md): named connections, each with server, port, user, proxy,
/// proxy-pac, proxy-auth, proxy-auth-no-basic, proxy-user, proxy-password-file, password-file, server-key and tls.
public struct ConnectionConfigFile: Sendable, Hashable {
    /// The file the entries came from, for messages.
    public var path: String
    /// The entries in file order.
    public var entries: [ConnectionEntry]

    /// Whether an entry carries a proxy password (`proxy-user USER:PASS` or `proxy = USER:PASS@…`).
    public var holdsPassword: Bool {
        entries.contains { entry in
            [entry.proxyCredentials, entry.proxy?.credentials].contains { !($0?.password.isEmpty ?? true) }
        }
    }

    /// Parses config-file text; `path` only labels messages.
    public init(parsing text: String, path: String) throws(TransportError) {
        self.path = path
        var entries: [ConnectionEntry] = []
        var lineNumber = 0
        func fail(_ message: String) -> TransportError {
            TransportError.configuration("\(path):\(lineNumber): \(message)")
        }
        for rawLine in text.fileLines {
            lineNumber += 1
            let line = rawLine.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail("a section header must end with \"]\"") }
                let words = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                guard words.count == 2, words[0] == "connection" else {
                    throw fail("expected a section header [connection NAME], found \(line)")
                }
                let name = String(words[1].trimming { $0 == "\"" })
                guard !entries.contains(where: { $0.name == name }) else {
                    throw fail("connection \"\(name)\" is defined twice")
                }
                entries.append(ConnectionEntry(name: name))
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw fail("expected KEY = VALUE or [connection NAME]")
            }
            let key = line[..<equals].trimmingWhitespace().lowercased()
            let value = String(line[line.index(after: equals)...].trimmingWhitespace())
            guard !entries.isEmpty else { throw fail("\"\(key)\" comes before any [connection NAME] section") }
            guard !value.isEmpty else { throw fail("\"\(key)\" has no value") }
            var entry = entries[entries.count - 1]
            switch key {
            case "server":
                // The same host check as -S and HOST:PORT; the port has its own key.
                let host = HostPort(host: value, port: 1).host
                if let problem = HostPort.hostProblem(host) {
                    throw fail("server: \(HostPortError(text: value, problem: problem).description)")
                }
                entry.server = value
            case "user":
                entry.user = value
            case "port":
                guard let port = Int(value), (1...65535).contains(port) else {
                    throw fail("port must be a number from 1 to 65535, not \"\(value)\"")
                }
                entry.port = port
            case "proxy":
                do {
                    entry.proxy = try HTTPProxy(parsing: value)
                } catch {
                    throw fail(error.message)
                }
            case "proxy-auth":
                guard let scheme = ProxyAuthScheme(parsing: value) else {
                    throw fail("proxy-auth must be any, basic, digest, ntlm or negotiate, not \"\(value)\"")
                }
                entry.proxyAuth = scheme
            case "proxy-auth-no-basic":
                switch value.lowercased() {
                case "yes", "true": entry.proxyAuthNoBasic = true
                case "no", "false": entry.proxyAuthNoBasic = false
                default: throw fail("proxy-auth-no-basic must be yes or no, not \"\(value)\"")
                }
            case "proxy-user":
                entry.proxyCredentials = ProxyCredentials(parsing: value)
            case "proxy-pac":
                entry.proxyPac = Self.resolvedPath(value, relativeTo: path, keepURLs: true)
            case "password-file":
                entry.passwordFile = Self.resolvedPath(value, relativeTo: path)
            case "proxy-password-file":
                entry.proxyPasswordFile = Self.resolvedPath(value, relativeTo: path)
            case "server-key":
                guard value.hasPrefix("SHA256:"), value.count > "SHA256:".count else {
                    throw fail("server-key must be a SHA256:… fingerprint as tt-connect prints it")
                }
                entry.serverKey = value
            case "tls":
                guard let mode = TLSMode(parsing: value) else {
                    throw fail("tls must be auto, always or never, not \"\(value)\"")
                }
                entry.tls = mode
            default:
                throw fail(
                    "unknown key \"\(key)\" (known: server, port, user, proxy, proxy-pac, proxy-auth, "
                        + "proxy-auth-no-basic, proxy-user, proxy-password-file, password-file, server-key, tls)"
                )
            }
            entries[entries.count - 1] = entry
        }
        self.entries = entries
    }

    /// A file named in the config file: `~/` is the home directory, a relative path is relative to the config
    /// file's directory (so a config file and its password file can move together); URLs stay as they are.
    static func resolvedPath(_ value: String, relativeTo configPath: String, keepURLs: Bool = false) -> String {
        if keepURLs, value.contains("://") { return value }
        if value.hasPrefix("~/") {
            let home = FilePathText.homeDirectory(environment: ProcessInfo.processInfo.environment)
            return FilePathText.join(home, String(value.dropFirst(2)))
        }
        if value.hasPrefix("/") { return value }
        let directory = FilePathText.directory(of: configPath)
        return directory.isEmpty ? value : FilePathText.join(directory, value)
    }

    /// The entry called `name`.
    /// - Throws: ``TransportError`` ``TransportError/Category/configuration`` listing the names there are.
    public func entry(named name: String) throws(TransportError) -> ConnectionEntry {
        guard let entry = entries.first(where: { $0.name == name }) else {
            let known = entries.map(\.name).joined(separator: ", ")
            throw TransportError.configuration(
                "no connection \"\(name)\" in \(path) (it defines: \(known.isEmpty ? "none" : known))"
            )
        }
        return entry
    }
}
