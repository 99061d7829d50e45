import TTClient
import TTProtocol
import Testing

@Suite("Logon string -S user:password@server:port")
struct LogonStringTests {
    @Test("nothing given means batch:batch@localhost:5000")
    func defaults() throws {
        let logon = try LogonString(parsing: "")
        #expect(logon == LogonString(user: "batch", password: "batch", server: "localhost", port: 5000))
    }

    @Test("a full logon string is split into its four parts")
    func full() throws {
        let logon = try LogonString(parsing: "fred:secret@tapes.example.com:5001")
        #expect(logon == LogonString(user: "fred", password: "secret", server: "tapes.example.com", port: 5001))
    }

    @Test("a leading - marks a clear-text password and is not part of it")
    func clearTextPrefix() throws {
        #expect(try LogonString(parsing: "fred:-secret@host:5000").password == "secret")
        #expect(try LogonString(parsing: "fred:--dash@host").password == "-dash")
        #expect(try LogonString(parsing: "fred:-@host").password == "")
    }

    @Test("the last @ separates credentials, so passwords may contain @ and :")
    func passwordWithSeparators() throws {
        let logon = try LogonString(parsing: "fred:-p@ss:w0rd@host:7000")
        #expect(logon.user == "fred")
        #expect(logon.password == "p@ss:w0rd")
        #expect(logon.server == "host")
        #expect(logon.port == 7000)
    }

    @Test("missing parts take their defaults")
    func partialForms() throws {
        #expect(try LogonString(parsing: "@host") == LogonString(server: "host"))
        #expect(try LogonString(parsing: "@host:6000") == LogonString(server: "host", port: 6000))
        #expect(try LogonString(parsing: "@:6000") == LogonString(port: 6000))
        #expect(try LogonString(parsing: ":-pw@host") == LogonString(user: "batch", password: "pw", server: "host"))
        #expect(try LogonString(parsing: "fred:pw") == LogonString(user: "fred", password: "pw"))
    }

    @Test("a user without a password leaves it to be prompted for")
    func missingPassword() throws {
        let logon = try LogonString(parsing: "fred@host")
        #expect(logon.user == "fred")
        #expect(logon.password == nil)
        #expect(try LogonString(parsing: "fred").password == nil)
    }

    @Test("IPv6 servers are written in brackets")
    func ipv6() throws {
        let logon = try LogonString(parsing: "a:-b@[::1]:5002")
        #expect(logon.server == "::1")
        #expect(logon.port == 5002)
        #expect(try LogonString(parsing: "a:-b@[fe80::1]").port == 5000)
        #expect(logon.description == "a@[::1]:5002")
    }

    @Test(
        "malformed server parts are rejected with a configuration TransportError naming the problem",
        arguments: [
            ("a@host:0", "server 'host:0': invalid port '0'"),
            ("a@host:65536", "server 'host:65536': invalid port '65536'"),
            ("a@host:http", "server 'host:http': invalid port 'http'"),
            ("a@::1:5000", "server '::1:5000': this looks like an IPv6 address"),
            ("a@[::1", "server '[::1': missing ']'"),
            ("a@[::1]5000", "server '[::1]5000': expected ':PORT' after ']'"),
            // Hosts that made connect() dial another port than the one shown (issue 18): the character is named.
            // (After a password the text is not quoted: LogonStringSecretTests.)
            ("bob@127.0.0.1#x:5000", "server '127.0.0.1#x:5000': the host contains '#'"),
            ("bob@127.0.0.1/x:5000", "server '127.0.0.1/x:5000': the host contains '/'"),
            ("bob@127.0.0.1?x:5000", "server '127.0.0.1?x:5000': the host contains '?'"),
            ("bob@tapes .example:5000", "server 'tapes .example:5000': the host contains a space"),
            ("bob@tapes\\x:5000", "server 'tapes\\x:5000': the host contains '\\'"),
            ("bob@2130706433:5000", "server '2130706433:5000': the host is not a valid host name or address"),
        ]
    )
    func rejects(text: String, expected: String) {
        // The same typed error as every other parsing API (Endpoint, HTTPProxy, the config file).
        do throws(TransportError) {
            _ = try LogonString(parsing: text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.category == .configuration)
            #expect(error.message.hasPrefix("logon string: \(expected)"))
            #expect(FrameworkClientError(error).category == .usage)
        }
    }

    @Test("neither the description nor any error contains the password")
    func neverShowsPassword() throws {
        let logon = try LogonString(parsing: "fred:-Sup3rSecret@host:5000")
        #expect(!logon.description.contains("Sup3rSecret"))
        do {
            _ = try LogonString(parsing: "fred:-Sup3rSecret@host:99999")
            Issue.record("expected a bad port error")
        } catch {
            #expect(!error.description.contains("Sup3rSecret"))
        }
    }
}

@Suite("Secrets stay out of dump() and debuggers")
struct RedactionTests {
    @Test("dumping credentials, login payloads, identities and session keys never shows the secret")
    func dumpRedacts() throws {
        let identity = ServerIdentity.generate()
        let pem = try identity.pemRepresentation()
        let secretKey = pem.split(separator: "\n")[1]
        var text = ""
        dump(Credentials(user: "fred", password: "Dump-S3cret"), to: &text)
        dump(LoginPayload(user: "fred", password: "Dump-S3cret"), to: &text)
        dump(identity, to: &text)
        dump(ServerHandshake(identity: identity), to: &text)
        #expect(text.contains("fred"))
        #expect(!text.contains("Dump-S3cret"))
        #expect(!text.contains(secretKey))
        #expect(text.contains(identity.fingerprint.description))
    }
}
