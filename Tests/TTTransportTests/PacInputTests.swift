import Foundation
import Glibc
import TTTestSupport
import Testing

@testable import TTTransport

/// Hostile or careless PAC inputs: a location with a password, a file that is no file, an answer full of junk.
@Suite("PAC inputs")
struct PacInputTests {
    static let target = Endpoint(host: "intranet.example", port: 5000)

    @Test("a PAC URL's password is sent to the server but never shown: not in errors, the source or the reason")
    func urlPasswordRedacted() async throws {
        let missing = try CannedResponder(reply: Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
        defer { missing.stop() }
        let missingURL = "http://pacuser:s3cr%40t@127.0.0.1:\(missing.port)/proxy.pac"
        let error = try await transportFailure {
            _ = try ProxyAutoConfig.resolve(location: missingURL, target: Self.target, deadline: .after(.seconds(10)))
        }
        #expect(error.message.contains("the server answered HTTP 404"), "\(error.message)")
        #expect(!error.message.contains("s3cr"), "\(error.message)")
        #expect(error.message.contains("http://pacuser:<redacted>@127.0.0.1:\(missing.port)/proxy.pac"))
        // The credentials still went to the server: only what is shown is redacted.
        #expect(missing.receivedRequests.first?.contains("Authorization: Basic cGFjdXNlcjpzM2NyQHQ=") == true)

        let script = "function FindProxyForURL(url, host) { return \"PROXY 127.0.0.1:3128\"; }"
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: \(script.utf8.count)\r\n\r\n\(script)".utf8)
        let server = try CannedResponder(reply: reply)
        defer { server.stop() }
        let url = "http://pacuser:s3cret@127.0.0.1:\(server.port)/proxy.pac"
        let pac = try await onThread {
            try ProxyAutoConfig.resolve(location: url, target: Self.target, deadline: .after(.seconds(10)))
        }
        #expect(pac.source == "http://pacuser:<redacted>@127.0.0.1:\(server.port)/proxy.pac")
        #expect(pac.location == url)
        var pacFlags = ProxyFlags()
        pacFlags.proxyPac = url
        let flags = pacFlags
        let decision = try await onThread {
            try ProxyConfiguration.resolve(target: Self.target, flags: flags, environment: [:])
        }
        #expect(!decision.reason.contains("s3cret"), "\(decision.reason)")
        // A library caller evaluating a script it fetched itself names it by its URL: no password either.
        #expect {
            _ = try ProxyAutoConfig.evaluate(script: "var x = 1;", source: url, target: Self.target)
        } throws: { error in
            let message = (error as? TransportError)?.message ?? ""
            return message.contains("http://pacuser:<redacted>@127.0.0.1") && !message.contains("s3cret")
        }
        #expect(decision.autoConfig?.pac.location == url)
    }

    @Test("the entries an answer leaves out are escaped and only the first few listed, however long the answer")
    func skippedEntriesBounded() throws {
        let script = """
            function FindProxyForURL(url, host) {
              var answer = "SOCKS evil\\u001b[2J:1; PROXY a.example:3128";
              for (var i = 0; i < 2500; i++) answer += "; SOCKS s" + i + ".example:1080";
              return answer;
            }
            """
        let pac = try ProxyAutoConfig.evaluate(script: script, source: "junk.pac", target: Self.target)
        #expect(pac.entries == [.proxy(try HTTPProxy(parsing: "a.example:3128"))])
        #expect(pac.skipped.count == ProxyAutoConfig.entryLimit + 1, "\(pac.skipped.count) entries listed")
        #expect(pac.skipped.first == "SOCKS evil\\x1b[2J:1")
        #expect(pac.skipped.last == "2493 more entries tt-connect cannot use", "\(pac.skipped.last ?? "")")
        #expect(pac.skipped.allSatisfy { $0.utf8.allSatisfy { (0x20..<0x7F).contains($0) } })
    }

    @Test("a PAC path that is a FIFO is refused at once, not read until a writer comes (past any deadline)")
    func fifoRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-pacfifo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("proxy.pac").path
        try #require(mkfifo(fifo, 0o600) == 0)
        // Were the reader to block on the FIFO, this lets it go after 3 s (an open for writing succeeds only
        // while a reader has it open), so the test ends either way.
        let release = Task {
            try await Task.sleep(for: .seconds(3))
            for _ in 0..<100 {
                let writer = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                if writer >= 0 {
                    close(writer)
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { release.cancel() }
        let (error, elapsed) = try await timedTransportFailure {
            _ = try ProxyAutoConfig.resolve(location: fifo, target: Self.target, deadline: .after(.seconds(30)))
        }
        #expect(elapsed < .seconds(2), "reading the FIFO took \(elapsed)")
        #expect(error.category == .configuration)
        #expect(error.message.contains("\(fifo) is not a regular file"), "\(error.message)")
    }

    @Test("a PAC file over 1 MiB is refused naming the limit")
    func oversizedFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tt-pacbig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("big.pac").path
        try Data(repeating: UInt8(ascii: " "), count: ProxyAutoConfig.sizeLimit + 1).write(
            to: URL(fileURLWithPath: path)
        )
        let error = try await transportFailure {
            _ = try ProxyAutoConfig.resolve(location: path, target: Self.target, deadline: .after(.seconds(10)))
        }
        #expect(error.category == .configuration)
        #expect(error.message.contains("\(path)"), "\(error.message)")
        #expect(error.message.contains("\(path) is larger than 1048576 bytes"), "\(error.message)")
    }

    @Test("a PAC URL libcurl cannot read as a URL is a usage error (exit 2), not an unreachable server (exit 3)")
    func malformedURL() async throws {
        for url in ["http://bad host/proxy.pac", "http://[::1/proxy.pac", "http://127.0.0.1:99999/proxy.pac"] {
            let error = try await transportFailure {
                _ = try ProxyAutoConfig.resolve(location: url, target: Self.target, deadline: .after(.seconds(5)))
            }
            #expect(error.category == .configuration, "\(url): \(error)")
            #expect(error.message.contains("the PAC URL \(url) is not a URL libcurl can use"), "\(error.message)")
        }
    }
}
