import TTClient
import TTTransport
import Testing

@Suite("Logon string: a password holding '@' stays out of errors")
struct LogonStringSecretTests {
    @Test(
        "what follows the last '@' may be the password's tail: an error about it does not quote it",
        arguments: [
            ("fred:-Pa@ss:w0rd", ["ss:w0rd", "w0rd"]),
            ("fred:-x@Tail$Secret", ["Tail", "Secret"]),
            ("fred:S3@cret::7", ["cret"]),
            ("fred:-p@[Hidden", ["Hidden"]),
        ]
    )
    func serverPartNotQuoted(text: String, secrets: [String]) throws {
        let error = try #require(throws: TransportError.self) { try LogonString(parsing: text) }
        for secret in secrets {
            #expect(!error.description.contains(secret), "\(error.description)")
        }
        #expect(error.message.hasPrefix("logon string: "))
        #expect(error.message.contains("user:password@server:port"))
        #expect(FrameworkClientError(error).category == .usage)
    }

    @Test("without a password the server part is still quoted, to find the typo")
    func serverPartQuotedWithoutPassword() throws {
        let error = try #require(throws: TransportError.self) { try LogonString(parsing: "fred@host:99999") }
        #expect(error.message.contains("'host:99999'"))
        #expect(error.message.contains("99999"))
    }
}
