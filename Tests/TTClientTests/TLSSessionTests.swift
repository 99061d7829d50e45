import Foundation
import TTBasics
import TTClient
import TTProtocol
import TTServer
import TTTestSupport
import TTTransport
import Testing

/// Issue 8: TLS between the client (libcurl) and tt-server (swift-nio-ssl after first-byte sniffing).
@Suite("TLS sessions")
struct TLSSessionTests {
    /// A directory removed at the end of the test.
    private static func withDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tt-tls-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory)
    }

    private static func writeCertificate(named name: String, in directory: URL) throws {
        let (certificate, key) = try SelfSignedCertificate.generate(name: name)
        try certificate.write(to: directory.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        // The server refuses a key others can read, as it would in production.
        try SecretFileWriter.replace(directory.appendingPathComponent("key.pem").path, with: Array(key.utf8))
    }

    private static func tlsSubject(port: Int) throws -> String? {
        let transport = try DirectTransport.open(
            Endpoint(host: "127.0.0.1", port: port),
            deadline: .after(.seconds(10)),
            tls: TargetTLSOptions(mode: .always)
        )
        defer { transport.close() }
        return transport.report.tls?.subject
    }

    @Test("a framework session runs inside TLS on the port that takes raw sessions too")
    func frameworkSessionInsideTLS() async throws {
        try await Self.withDirectory { directory in
            try Self.writeCertificate(named: "tapes.example", in: directory)
            let tls = try ServerTLSContext(
                certificatePath: directory.appendingPathComponent("cert.pem").path,
                keyPath: directory.appendingPathComponent("key.pem").path
            )
            try await withStarted(TestServer.start(configure: { $0.tls = tls })) { server in
                for mode in [TLSMode.always, .never] {
                    let client = FrameworkClient(
                        configuration: ClientConfiguration(
                            server: Endpoint(host: "127.0.0.1", port: server.port),
                            credentials: Credentials(user: "batch", password: "batch"),
                            identity: .pinned(server.fingerprint),
                            tls: TargetTLSOptions(mode: mode)
                        )
                    )
                    let answer = try client.send(
                        RequestPacket(function: .echo, payload: Array(repeating: 7, count: 200_000))
                    )
                    #expect(answer.payload.count == 200_000)
                    if mode == .always {
                        let facts = try #require(client.report?.tls)
                        #expect(facts.version == "TLS 1.3")
                        #expect(facts.subject == "CN=tapes.example")
                        #expect(facts.selfIssued && !facts.interceptionSuspected)
                        #expect(client.report?.target.host == "127.0.0.1" && facts.serverName == nil)
                    } else {
                        #expect(client.report?.tls == nil)
                    }
                }
            }
        }
    }

    @Test("reload() serves the new certificate to new connections and keeps the old one when the files are bad")
    func reloadCertificate() async throws {
        try await Self.withDirectory { directory in
            try Self.writeCertificate(named: "first.example", in: directory)
            let tls = try ServerTLSContext(
                certificatePath: directory.appendingPathComponent("cert.pem").path,
                keyPath: directory.appendingPathComponent("key.pem").path
            )
            try await withStarted(TestServer.start(configure: { $0.tls = tls })) { server in
                #expect(try Self.tlsSubject(port: server.port) == "CN=first.example")
                try Self.writeCertificate(named: "second.example", in: directory)
                try tls.reload()
                #expect(try Self.tlsSubject(port: server.port) == "CN=second.example")
                try "not a certificate".write(
                    to: directory.appendingPathComponent("cert.pem"),
                    atomically: true,
                    encoding: .utf8
                )
                #expect(throws: ServerTLSError.self) { try tls.reload() }
                #expect(try Self.tlsSubject(port: server.port) == "CN=second.example")
                // A key others can read is refused on reload too, naming the fix; the old certificate stays.
                try Self.writeCertificate(named: "third.example", in: directory)
                let key = directory.appendingPathComponent("key.pem").path
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
                let refusal = #expect(throws: ServerTLSError.self) { try tls.reload() }
                #expect(refusal?.description.contains("chmod 600 \(key)") == true)
                #expect(try Self.tlsSubject(port: server.port) == "CN=second.example")
            }
        }
    }

    @Test("the self-signed certificate is created once, beside the identity, mode 0600, named as asked")
    func selfSignedCertificate() async throws {
        try await Self.withDirectory { directory in
            let identity = directory.appendingPathComponent("identity.pem").path
            let (_, created) = try SelfSignedCertificate.loadOrCreate(besideIdentity: identity, name: "tapes.example")
            #expect(created)
            let paths = SelfSignedCertificate.paths(besideIdentity: identity)
            #expect(paths.certificate == directory.appendingPathComponent("identity-tls-cert.pem").path)
            for path in [paths.certificate, paths.key] {
                let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(path)")
            }
            let (_, again) = try SelfSignedCertificate.loadOrCreate(besideIdentity: identity, name: "other.example")
            #expect(!again, "an existing certificate is kept")
            let text = try await runOpenSSL(["x509", "-noout", "-text", "-in", paths.certificate])
            #expect(text.contains("Subject: CN = tapes.example"))
            #expect(text.contains("Issuer: CN = tapes.example"))
            #expect(text.contains("DNS:tapes.example"))
            #expect(text.contains("prime256v1"))
            #expect(text.contains("TLS Web Server Authentication"))
            let (addressCertificate, _) = try SelfSignedCertificate.generate(name: "127.0.0.1")
            let file = directory.appendingPathComponent("ip.pem")
            try addressCertificate.write(to: file, atomically: true, encoding: .utf8)
            #expect(
                try await runOpenSSL(["x509", "-noout", "-text", "-in", file.path]).contains("IP Address:127.0.0.1")
            )
        }
    }

    private func runOpenSSL(_ arguments: [String]) async throws -> String {
        try await runProcess(URL(fileURLWithPath: "/usr/bin/openssl"), arguments, timeout: .seconds(30)).standardOutput
    }
}
