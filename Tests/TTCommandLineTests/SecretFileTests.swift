import Foundation
import TTTransport
import Testing

@testable import TTCommandLine

@Suite("Secrets in files")
struct SecretFileTests {
    @Test("the first line is the password; a file others can read is refused without showing its contents")
    func readAndRefuse() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tt-secret-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "S3cret-From-File\r\nignored\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        #expect(try SecretFile.readPassword(path, what: "proxy password file") == "S3cret-From-File")
        chmod(path, 0o604)
        #expect {
            _ = try SecretFile.readPassword(path, what: "proxy password file")
        } throws: { error in
            let text = "\(error)"
            return text.contains("chmod 600 \(path)") && !text.contains("S3cret")
        }
    }

    @Test("config keys proxy-pac, password-file, proxy-password-file; relative paths follow the config file")
    func configKeys() throws {
        let file = try ConnectionConfigFile(
            parsing: """
                [connection a]
                proxy-pac = http://wpad.example/proxy.pac
                password-file = secrets/logon
                proxy-password-file = /abs/proxy
                proxy-user = bob
                """,
            path: "/etc/tt/config"
        )
        let entry = try file.entry(named: "a")
        #expect(entry.proxyPac == "http://wpad.example/proxy.pac")
        #expect(entry.passwordFile == "/etc/tt/secrets/logon")
        #expect(entry.proxyPasswordFile == "/abs/proxy")
        #expect(entry.proxyCredentials?.user == "bob")
        #expect(!file.holdsPassword)
    }
}
