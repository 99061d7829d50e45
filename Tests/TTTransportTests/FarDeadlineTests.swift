import Glibc
import TTTestSupport
import Testing

@testable import TTTransport

/// A library caller's deadline may be far away ("practically never"): turning it into libcurl's or poll's
/// milliseconds must saturate, not overflow.
@Suite("Far deadlines")
struct FarDeadlineTests {
    static let far = Deadline.after(.seconds(Int64.max / 2))

    @Test("a deadline centuries away connects and waits like .never, without trapping on the milliseconds")
    func farDeadline() async throws {
        #expect(Self.far.pollTimeoutMilliseconds == Int32.max)
        let (listener, port) = try bindLoopback(listenBacklog: 4)
        defer { close(listener) }
        let connected = try await onThread { () -> Bool in
            let transport = try DirectTransport.open(Endpoint(host: "127.0.0.1", port: port), deadline: Self.far)
            defer { transport.close() }
            return transport.pollDescriptor >= 0
        }
        #expect(connected)
        let pac = try ProxyAutoConfig.evaluate(
            script: "function FindProxyForURL(url, host) { return \"DIRECT\"; }",
            source: "far.pac",
            target: Endpoint(host: "intranet.example", port: 5000),
            deadline: Self.far
        )
        #expect(pac.entries == [.direct])
    }
}
