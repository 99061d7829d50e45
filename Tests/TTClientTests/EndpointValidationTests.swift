import TTClient
import TTCommandLine
import TTTestSupport
import TTTransport
import Testing

/// A library caller's endpoint is held to the same host rule as `-S` and `HOST:PORT`: a host that could make
/// libcurl dial another port than the one given is a usage error, and nothing is dialled.
@Suite("Endpoint validation at the library boundary")
struct EndpointValidationTests {
    static let oddHosts = ["127.0.0.1#x", "127.0.0.1/x", "127.0.0.1?x", "127.0.0.1 x", "127.0.0.1\\x", "127.1"]

    @Test("an odd host is a usage error naming it, and no port is dialled", arguments: oddHosts)
    func oddHostDirect(host: String) async throws {
        let listener = try RecordingListener()
        let config = ClientConfiguration(
            server: Endpoint(host: host, port: listener.port),
            identity: .acceptAny,
            connectTimeout: .seconds(2)
        )
        let error = try await connectFailure(config)
        let failure = try #require(error)
        #expect(failure.category == .usage, "\(failure.message)")
        #expect(failure.category.exitCode == 2)
        #expect(failure.message.contains(host))
        #expect(listener.takeConnections() == 0)
    }

    @Test("through a proxy too: the proxy is never asked for a tunnel to an odd host", arguments: oddHosts)
    func oddHostThroughProxy(host: String) async throws {
        let proxy = try RecordingListener()
        let config = ClientConfiguration(
            server: Endpoint(host: host, port: 5000),
            route: .proxy(HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: proxy.port)), HTTPProxyOptions()),
            identity: .acceptAny,
            connectTimeout: .seconds(2)
        )
        let error = try await connectFailure(config)
        let failure = try #require(error)
        #expect(failure.category == .usage, "\(failure.message)")
        #expect(proxy.takeConnections() == 0)
    }

    @Test("a valid host is dialled on exactly the port given (the control for the tests above)")
    func validHostDialsThePort() async throws {
        let listener = try RecordingListener()
        let config = ClientConfiguration(
            server: Endpoint(host: "127.0.0.1", port: listener.port),
            identity: .acceptAny,
            connectTimeout: .milliseconds(500),
            reconnect: .never
        )
        let error = try await connectFailure(config)
        // The listener never answers the hello: the handshake times out.
        #expect(error?.category == .timedOut)
        #expect(listener.takeConnections() == 1)
    }

    private func connectFailure(_ config: ClientConfiguration) async throws -> FrameworkClientError? {
        try await runBlocking { () -> FrameworkClientError? in
            let client = FrameworkClient(configuration: config, trace: .disabled)
            do throws(FrameworkClientError) {
                try client.connect()
                return nil
            } catch {
                return error
            }
        }
    }
}
