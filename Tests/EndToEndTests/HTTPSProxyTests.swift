import Foundation
import TTTestSupport
import Testing

/// An https:// proxy: tt-proxy behind a real TLS front (socat with OpenSSL and a certificate made here by the
/// openssl command), so libcurl speaks TLS to the proxy and CONNECT inside it.
@Suite("https:// proxies")
struct HTTPSProxyTests {
    static let enabled =
        ["/usr/bin/socat", "/usr/bin/openssl"].allSatisfy { FileManager.default.fileExists(atPath: $0) }
        || ProcessInfo.processInfo.environment["CI"] != nil

    /// Makes a self-signed certificate for 127.0.0.1 in `home`: `proxy.pem` (returned, the CA bundle for
    /// `--proxy-cacert`) and `both.pem` (key and certificate, for socat's `OPENSSL-LISTEN`).
    static func makeCertificate(in home: TemporaryDirectory) async throws -> String {
        let certificate = home.file("proxy.pem")
        let made = try await runProcess(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", home.file("key.pem"), "-out", certificate,
            ],
            timeout: .seconds(60)
        )
        try #require(made.status == 0, "\(made.allOutput)")
        let bundle =
            try String(contentsOfFile: home.file("key.pem"), encoding: .utf8)
            + String(contentsOfFile: certificate, encoding: .utf8)
        try bundle.write(toFile: home.file("both.pem"), atomically: true, encoding: .utf8)
        return certificate
    }

    @Test(
        "TLS to the proxy: verified with --proxy-cacert, refused without it (exit 7), or --proxy-insecure",
        .enabled(if: enabled)
    )
    func httpsProxy() async throws {
        let home = try TemporaryDirectory()
        let certificate = try await Self.makeCertificate(in: home)

        try await withStarted(ServerProcess.start()) { server in
            try await withStarted(ProxyProcess.start()) { proxy in
                let (front, port) = try await Self.startTLSFront(to: proxy.port, in: home)
                try await withStarted(front) { _ in

                    let https = "https://127.0.0.1:\(port)"
                    let verified = try await tool(
                        ["check", "--proxy", https, "--proxy-cacert", certificate, server.address],
                        home: home
                    )
                    #expect(verified.status == 0, "\(verified.allOutput)")
                    #expect(verified.standardOutput.contains("connected to 127.0.0.1:\(port) (TLS)"))
                    #expect(verified.standardOutput.contains("✓ handshake"))

                    // Issue 22: libcurl's reason first, then the remedy; not "check that it is an https:// proxy".
                    let unverified = try await tool(["check", "--proxy", https, server.address], home: home)
                    #expect(unverified.status == 7, "\(unverified.allOutput)")
                    #expect(
                        WordingTests.failedDetail(unverified.standardOutput, stage: "proxy")
                            == "the TLS certificate of proxy \(https) (from --proxy) is not trusted: SSL certificate "
                            + "problem: self-signed certificate; give the CA file that signed it, or skip the "
                            + "verification (CA file: --proxy-cacert FILE; no verification: --proxy-insecure)",
                        "\(unverified.standardOutput)"
                    )

                    // Issue 22: http:// to the TLS port: the front resets the plain CONNECT; https:// is suggested.
                    let plain = try await tool(
                        ["check", "--proxy", "http://127.0.0.1:\(port)", server.address],
                        home: home
                    )
                    #expect(plain.status == 7, "\(plain.allOutput)")
                    #expect(
                        WordingTests.failedDetail(plain.standardOutput, stage: "tunnel")
                            == "proxy http://127.0.0.1:\(port) (from --proxy) reset the connection before answering the "
                            + "CONNECT request for \(server.address): if it is an https:// proxy, use https://127.0.0.1:"
                            + "\(port); else check that it is an HTTP proxy and this its port",
                        "\(plain.standardOutput)"
                    )

                    let insecure = try await tool(
                        ["check", "--proxy", https, "--proxy-insecure", server.address],
                        home: home
                    )
                    #expect(insecure.status == 0, "\(insecure.allOutput)")
                }
            }
        }
    }

    @Test("a known-servers file given as a bare name in the working directory is created and used")
    func relativeKnownServers() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            let command =
                "cd '\(home.path)' && exec '\(BuiltProducts.executable("tt-connect").path)' check "
                + "--known-servers known \(server.address)"
            for _ in 0..<2 {
                let result = try await runProcess(
                    URL(fileURLWithPath: "/bin/sh"),
                    ["-c", command],
                    environment: ["HOME": home.path, "HTTPS_PROXY": "", "ALL_PROXY": ""]
                )
                #expect(result.status == 0, "\(result.allOutput)")
            }
            let known = try String(contentsOfFile: home.file("known"), encoding: .utf8)
            #expect(known == "\(server.address) \(server.fingerprint)\n")
        }
    }

    /// socat terminating TLS with `makeCertificate`'s certificate in `home` and passing the bytes to `port`: an
    /// https:// proxy in front of a plain one.
    static func startTLSFront(
        to port: Int,
        in home: TemporaryDirectory
    ) async throws -> (
        process: RunningProcess, port: Int
    ) {
        try await startListeningProcess(URL(fileURLWithPath: "/usr/bin/socat")) { frontPort in
            [
                "OPENSSL-LISTEN:\(frontPort),bind=127.0.0.1,reuseaddr,fork,cert=\(home.file("both.pem")),verify=0",
                "TCP:127.0.0.1:\(port)",
            ]
        }
    }
}
