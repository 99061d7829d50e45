package import ArgumentParser
import FoundationEssentials
import TTClient
import TTCommandSupport
import TTTransport

/// `tt-connect connections`: the entries of the config file, one line each: name, server, route, and whether a
/// password file is set. Never a password.
package struct ConnectionsCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "connections",
        abstract: "List the connections of the config file: name, server, route, password file."
    )

    @Option(
        help: ArgumentHelp("Config file to read (default: ~/.config/tt-connect/config).", valueName: "FILE")
    )
    package var config: String?

    package init() {}

    package func run() throws {
        let path = config ?? ProxyOptions.defaultConfigPath
        guard FileManager.default.fileExists(atPath: path) else {
            Console.line("no connections: \(path) does not exist (tt-connect setup NAME creates it)")
            return
        }
        let file: ConnectionConfigFile
        do {
            file = try ConnectionConfigFile.load(path: path)
        } catch {
            throw CommandFailure.usage("\(error)")
        }
        guard !file.entries.isEmpty else {
            Console.line("no connections in \(path) (tt-connect setup NAME adds one)")
            return
        }
        let rows = [["NAME", "SERVER", "ROUTE", "PASSWORD FILE"]] + file.entries.map(Self.row)
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let padded = (0..<3).map { row[$0] + String(repeating: " ", count: widths[$0] - row[$0].count) }
            Console.line((padded + [row[3]]).joined(separator: "  "))
        }
    }

    /// One entry's cells. The route as the entry sets it; without one, the environment's proxy or direct.
    static func row(_ entry: ConnectionEntry) -> [String] {
        let server = entry.server.map { Endpoint(host: $0, port: entry.port ?? LogonString.defaultPort).description }
        let route: String
        if let proxy = entry.proxy {
            route = "proxy \(proxy.url)"  // the URL without credentials
        } else if let pac = entry.proxyPac {
            route = "PAC \(pac)"
        } else {
            route = "direct or environment proxy"
        }
        let passwords = [
            entry.passwordFile.map { _ in "yes" }, entry.proxyPasswordFile.map { _ in "proxy: yes" },
        ]
        .compactMap { $0 }
        return [entry.name, server ?? "(none)", route, passwords.isEmpty ? "no" : passwords.joined(separator: ", ")]
    }
}
