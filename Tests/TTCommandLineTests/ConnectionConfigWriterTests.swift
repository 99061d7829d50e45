import Foundation
import TTClient
import TTTestSupport
import TTTransport
import Testing

@testable import TTCommandLine

@Suite("Writing connections into a config file")
struct ConnectionConfigWriterTests {
    static let original = """
        # My connections; keep this comment.
        [connection first]
        server   =   a.example
        ; odd spacing above stays

        # the office, behind the proxy
        [connection office]
        server = old.example
        # a comment inside office
        port = 5001

        # last one
        [connection last]
        server = c.example
        """

    static func entry(_ name: String, server: String) -> ConnectionEntry {
        var entry = ConnectionEntry(name: name)
        entry.server = server
        entry.port = 6000
        return entry
    }

    @Test("replacing a section keeps its place and every other line byte for byte")
    func replaceInPlace() throws {
        let section = ConnectionConfigWriter.section(for: Self.entry("office", server: "new.example"), configPath: "/c")
        let updated = ConnectionConfigWriter.replacingSection("office", in: Self.original, with: section)
        #expect(
            updated == """
                # My connections; keep this comment.
                [connection first]
                server   =   a.example
                ; odd spacing above stays

                # the office, behind the proxy
                [connection office]
                server = new.example
                port = 6000

                # last one
                [connection last]
                server = c.example

                """
        )
        let file = try ConnectionConfigFile(parsing: updated, path: "/c")
        #expect(file.entries.map(\.name) == ["first", "office", "last"])
        #expect(try file.entry(named: "office").server == "new.example")
    }

    @Test("a new section is appended after a blank line, also to a file without a final newline")
    func append() throws {
        let section = ConnectionConfigWriter.section(for: Self.entry("new", server: "n.example"), configPath: "/c")
        let updated = ConnectionConfigWriter.replacingSection("new", in: Self.original, with: section)
        #expect(updated == Self.original + "\n\n[connection new]\nserver = n.example\nport = 6000\n")
        #expect(ConnectionConfigWriter.replacingSection("new", in: "", with: section) == section)
    }

    @Test("a file saved with CR LF line ends gets its section replaced in place, or one appended, never twice")
    func crlfLineEnds() throws {
        let original = Self.original.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n"
        let section = ConnectionConfigWriter.section(for: Self.entry("office", server: "new.example"), configPath: "/c")
        let replaced = try ConnectionConfigFile(
            parsing: ConnectionConfigWriter.replacingSection("office", in: original, with: section),
            path: "/c"
        )
        #expect(replaced.entries.map(\.name) == ["first", "office", "last"])
        #expect(try replaced.entry(named: "office").server == "new.example")
        let added = ConnectionConfigWriter.replacingSection(
            "new",
            in: original,
            with: ConnectionConfigWriter.section(for: Self.entry("new", server: "n.example"), configPath: "/c")
        )
        #expect(added.hasPrefix(original) && added.dropFirst(original.count).hasPrefix("\n[connection new]"))
        #expect(
            try ConnectionConfigFile(parsing: added, path: "/c").entries.map(\.name) == [
                "first", "office", "last", "new",
            ]
        )
    }

    @Test("removing a section leaves the others and their comments")
    func remove() throws {
        let updated = ConnectionConfigWriter.replacingSection("office", in: Self.original + "\n", with: nil)
        #expect(
            updated == """
                # My connections; keep this comment.
                [connection first]
                server   =   a.example
                ; odd spacing above stays

                # the office, behind the proxy
                # last one
                [connection last]
                server = c.example

                """
        )
        #expect(ConnectionConfigWriter.replacingSection("absent", in: Self.original, with: nil) == Self.original)
    }

    @Test("the entry of a route that worked: passwords in 0600 files beside the config, never in it")
    func savedEntryHoldsNoPassword() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-save-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configPath = directory.appendingPathComponent("config").path
        var proxy = try HTTPProxy(parsing: "http://127.0.0.1:3128")
        proxy.credentials = ProxyCredentials(user: "alice", password: "Proxy-Secret-1")
        proxy.authScheme = .basic
        let configuration = ClientConfiguration(
            server: Endpoint(host: "tape.example", port: 5100),
            route: .proxy(proxy, HTTPProxyOptions()),
            credentials: Credentials(user: "fred", password: "Logon-Secret-2"),
            identity: .acceptAny,
            tls: TargetTLSOptions(mode: .always)
        )
        let entry = try SavedConnection.entry(
            named: "office",
            configuration: configuration,
            serverKey: "SHA256:abc",
            previous: nil,
            configPath: configPath
        )
        try ConnectionConfigWriter.save(entry, to: configPath)
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        #expect(
            text == """
                [connection office]
                server = tape.example
                port = 5100
                user = fred
                password-file = office.password
                proxy = http://127.0.0.1:3128
                proxy-auth = basic
                proxy-user = alice
                proxy-password-file = office.proxy-password
                tls = always
                server-key = SHA256:abc

                """
        )
        #expect(!text.contains("Secret"))
        let directoryMode = try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions]
        #expect(directoryMode as? Int == 0o700)
        for file in ["config", "office.password", "office.proxy-password"] {
            let path = directory.appendingPathComponent(file).path
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file)")
        }
        let read = try ConnectionConfigFile.load(path: configPath).entry(named: "office")
        #expect(try SecretFile.readPassword(read.passwordFile ?? "", what: "password file") == "Logon-Secret-2")
        #expect(
            try SecretFile.readPassword(read.proxyPasswordFile ?? "", what: "proxy password file") == "Proxy-Secret-1"
        )
        // Saved again with the same passwords, the entry keeps naming the same files.
        let again = try SavedConnection.entry(
            named: "office",
            configuration: configuration,
            serverKey: "SHA256:abc",
            previous: read,
            configPath: configPath
        )
        #expect(again.passwordFile == read.passwordFile)
    }

    @Test("a file that does not parse is not rewritten")
    func refusesBrokenFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tt-broken-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "[connection a]\nbogus = 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) {
            try ConnectionConfigWriter.save(Self.entry("b", server: "b.example"), to: path)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "[connection a]\nbogus = 1\n")
    }

    @Test(
        "no other user can read the config file at any moment of a save, its temporary file included",
        .enabled(if: geteuid() == 0, "needs root to run the reader as nobody")
    )
    func privateFromTheFirstByte() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-cfg-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/config"
        let report = try await watchAsUnprivilegedReader(directory, marker: "connection") {
            for index in 0..<200 {
                try ConnectionConfigWriter.save(Self.entry("c\(index % 20)", server: "s\(index).example"), to: path)
            }
        }
        #expect(report.userID == "65534")
        #expect(report.leaks.isEmpty, "\(report.output)")
        #expect(report.polls > 10, "the reader must have polled throughout: \(report.output)")
        #expect(try ConnectionConfigFile.load(path: "\(directory)/config").entries.count == 20)
    }
}
