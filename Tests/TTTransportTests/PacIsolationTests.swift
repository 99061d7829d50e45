import Foundation
import Synchronization
import TTTestSupport
import Testing

@testable import TTTransport

/// Hostile PAC scripts and servers (issue 18): an evaluation is bounded in time, memory and answer size, and runs
/// outside the process, so neither a hang nor a memory bomb reaches the caller.
@Suite("PAC evaluation is bounded and isolated")
struct PacIsolationTests {
    static let target = Endpoint(host: "intranet.example", port: 5000)

    @Test("an endless loop is stopped at the deadline: timed out (exit 12), naming the PAC")
    func endlessLoop() async throws {
        let (error, elapsed) = try await timedFailure {
            _ = try ProxyAutoConfig.evaluate(
                script: "function FindProxyForURL(u, h) { while (true) {} }",
                source: "loop.pac",
                target: Self.target,
                deadline: .after(.seconds(1))
            )
        }
        #expect(error.category == .timedOut)
        #expect(error.message.contains("loop.pac"))
        #expect(elapsed < .seconds(4), "stopped at the deadline, not later: \(elapsed)")
    }

    @Test("a script doubling a string towards 400 MB is stopped by its memory limit; this process stays small")
    func memoryBomb() async throws {
        let before = residentBytes()
        let error = try await transportFailure {
            _ = try ProxyAutoConfig.evaluate(
                script: """
                    function FindProxyForURL(u, h) {
                      var s = "xxxxxxxxxxxxxxxx";
                      while (s.length < 400 * 1024 * 1024) { s = s + s; }
                      return "PROXY a.example:" + s.length;
                    }
                    """,
                source: "bomb.pac",
                target: Self.target,
                deadline: .after(.seconds(20))
            )
        }
        #expect(error.category == .configuration, "\(error.message)")
        #expect(error.message.contains("bomb.pac"))
        #expect(residentBytes() - before < 64 * 1024 * 1024, "the string was built in the child, not here")
    }

    @Test("an answer with 216 entries: the first 8 are tried, the rest are left out and said so")
    func manyEntries() throws {
        let pac = try ProxyAutoConfig.evaluate(
            script: """
                function FindProxyForURL(u, h) {
                  var a = [];
                  for (var i = 0; i < 216; i++) a.push("PROXY p" + i + ".example:3128");
                  return a.join("; ");
                }
                """,
            source: "many.pac",
            target: Self.target,
            deadline: .after(.seconds(10))
        )
        #expect(pac.entries.count == 8)
        #expect(pac.entries.first == .proxy(try HTTPProxy(parsing: "http://p0.example:3128")))
        #expect(pac.entries.last == .proxy(try HTTPProxy(parsing: "http://p7.example:3128")))
        #expect(pac.skipped == ["208 more entries: only the first 8 are tried"])
    }

    @Test("an answer over 64 KiB is refused, not cut")
    func hugeAnswer() async throws {
        let error = try await transportFailure {
            _ = try ProxyAutoConfig.evaluate(
                script: """
                    function FindProxyForURL(u, h) {
                      var s = "DIRECT";
                      while (s.length < 100000) { s = s + "; DIRECT"; }
                      return s;
                    }
                    """,
                source: "huge.pac",
                target: Self.target,
                deadline: .after(.seconds(10))
            )
        }
        #expect(error.category == .configuration)
        #expect(error.message.contains("more than 64 KiB"), "\(error.message)")
    }

    @Test("evaluations run side by side: a hanging one does not hold up another")
    func noSharedLock() async throws {
        async let hanging: TransportError = transportFailure {
            _ = try ProxyAutoConfig.evaluate(
                script: "function FindProxyForURL(u, h) { while (true) {} }",
                source: "loop.pac",
                target: Self.target,
                deadline: .after(.seconds(3))
            )
        }
        try await Task.sleep(for: .milliseconds(200))
        let (quick, elapsed) = try await onThread {
            let started = ContinuousClock.now
            let pac = try ProxyAutoConfig.evaluate(
                script: "function FindProxyForURL(u, h) { return \"DIRECT\"; }",
                source: "quick.pac",
                target: Self.target,
                deadline: .after(.seconds(10))
            )
            return (pac, ContinuousClock.now - started)
        }
        #expect(quick.entries == [.direct])
        #expect(elapsed < .seconds(2), "not serialised behind the hanging script: \(elapsed)")
        #expect(try await hanging.category == .timedOut)
    }

    @Test("a PAC URL that trickles 1 byte/s is given up at the deadline")
    func trickledURL() async throws {
        let server = try TricklingServer()
        defer { server.stop() }
        let (error, elapsed) = try await timedFailure {
            _ = try ProxyAutoConfig.resolve(
                location: "http://127.0.0.1:\(server.port)/proxy.pac",
                target: Self.target,
                deadline: .after(.seconds(2))
            )
        }
        #expect(elapsed < .seconds(4), "\(elapsed)")
        #expect(error.message.contains("proxy.pac"), "\(error.message)")
        #expect(server.bytesSent >= 1, "the server did trickle")
    }

    /// The failure of `body` and how long it took, measured on its own thread (not the test's scheduling).
    private func timedFailure(
        _ body: @escaping @Sendable () throws -> Void
    ) async throws -> (TransportError, Duration) {
        let (result, elapsed) = try await onThread { () -> (Result<Void, any Error>, Duration) in
            let started = ContinuousClock.now
            let result = Result { try body() }
            return (result, ContinuousClock.now - started)
        }
        guard case .failure(let error) = result, let error = error as? TransportError else {
            throw PacTestError(description: "expected a TransportError, got \(result)")
        }
        return (error, elapsed)
    }

    private func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// An HTTP server on 127.0.0.1 that answers one request with a 200 whose 1,000-byte body comes 1 byte a second.
private final class TricklingServer: Sendable {
    let port: Int
    private let listener: Int32
    private let state = Mutex((stopped: false, sent: 0))

    init() throws {
        (listener, port) = try bindLoopback(listenBacklog: 4)
        Thread.detachNewThread { [self] in serve() }
    }

    var bytesSent: Int { state.withLock { $0.sent } }

    func stop() {
        state.withLock { $0.stopped = true }
        _ = shutdown(listener, Int32(SHUT_RDWR))
    }

    private func serve() {
        defer { close(listener) }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var head = [UInt8](repeating: 0, count: 4096)
        _ = recv(connection, &head, head.count, 0)
        let header = Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".utf8)
        _ = header.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // Bounded: 30 bytes at most, one a second, and the test stops it sooner.
        for _ in 0..<30 {
            guard !state.withLock({ $0.stopped }) else { return }
            var byte: UInt8 = 0x2F
            guard send(connection, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
            state.withLock { $0.sent += 1 }
            Thread.sleep(forTimeInterval: 1)
        }
    }
}

private struct PacTestError: Error, CustomStringConvertible {
    var description: String
}
