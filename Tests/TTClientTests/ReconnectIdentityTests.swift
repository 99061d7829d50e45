import Foundation
import TTClient
import TTProtocol
import TTTestSupport
import TTTransport
import Testing

/// A reconnect is a new handshake: the server behind it must be the one the client accepted first.
@Suite("Reconnect keeps the server's identity")
struct ReconnectIdentityTests {
    @Test("a reconnect to a server presenting another key is refused even when known_servers cannot be written")
    func identityChangeOnReconnectRefused() async throws {
        // The first connection closes after one answer, as a server that timed the session out; whatever answers
        // the reconnect presents another identity key, as a man in the middle that cut the session would.
        let impostor = ServerIdentity.generate()
        let peer = try await ScriptedPeer.start([.init(closeAfterAnswers: 1), .init(identity: impostor)])
        try await withStarted(peer) { peer in
            // A known-servers file that cannot be written (no such home): trust on first use then only warns, and
            // has nothing on disk to compare the reconnect's key with.
            let known = KnownServers(path: "/nonexistent-\(UUID())/.config/tt-connect/known_servers")
            let configuration = ClientConfiguration(
                server: Endpoint(host: "127.0.0.1", port: peer.port),
                identity: .trustOnFirstUse(known),
                connectTimeout: .seconds(5),
                requestTimeout: .seconds(5)
            )
            let error = try await runBlocking { () throws -> FrameworkClientError? in
                let client = FrameworkClient(configuration: configuration, trace: .disabled)
                try client.ping()
                let first = client.serverIdentity?.fingerprint
                // Wait until the client's socket has seen the close, so the next request reopens on its own.
                let deadline = ContinuousClock.now + .seconds(10)
                while hasEstablishedConnection(toPort: peer.port), ContinuousClock.now < deadline {
                    usleep(10_000)
                }
                do throws(FrameworkClientError) {
                    try client.ping()
                    return nil
                } catch {
                    #expect(client.serverIdentity?.fingerprint == first)
                    return error
                }
            }
            let refusal = try #require(error, "the reconnect to another key was accepted")
            #expect(refusal.category == .identityMismatch)
            #expect(refusal.message.contains(impostor.fingerprint.description))
            #expect(peer.connections == 2)
            #expect(peer.requests == 1)
        }
    }
}
