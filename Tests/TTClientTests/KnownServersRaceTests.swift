import Foundation
import TTClient
import TTProtocol
import TTTestSupport
import TTTransport
import Testing

/// Two clients meeting a server for the first time at once (the doctor checks every route together; two tools
/// started together) must not both trust it when they were shown different keys.
@Suite("Trust on first use: two first connections at once")
struct KnownServersRaceTests {
    @Test("of two first connections shown different keys for one server, at most one is accepted")
    func concurrentFirstUseAgreesOnOneKey() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tofu-race-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var bothAccepted = 0
        // Bounded: a few rounds, each a pair of connections whose handshakes end together.
        for round in 0..<8 {
            let known = KnownServers(path: directory.appendingPathComponent("known-\(round)").path)
            // Both hellos leave after the same delay, so both clients look the server up at about the same time.
            let peer = try await ScriptedPeer.start([
                .init(handshakeDelay: .milliseconds(300), identity: ServerIdentity.generate()),
                .init(handshakeDelay: .milliseconds(300), identity: ServerIdentity.generate()),
            ])
            let accepted = try await withStarted(peer) { peer in
                let configuration = ClientConfiguration(
                    server: Endpoint(host: "127.0.0.1", port: peer.port),
                    identity: .trustOnFirstUse(known),
                    connectTimeout: .seconds(10),
                    requestTimeout: .seconds(10),
                    reconnect: .never
                )
                @Sendable func connects() throws -> Bool {
                    do {
                        try FrameworkClient(configuration: configuration, trace: .disabled).connect()
                        return true
                    } catch {
                        #expect(error.category == .identityMismatch, "\(error)")
                        return false
                    }
                }
                async let first = runBlocking(connects)
                async let second = runBlocking(connects)
                return try await [first, second].filter { $0 }.count
            }
            #expect(accepted >= 1, "round \(round): neither key was accepted")
            if accepted == 2 { bothAccepted += 1 }
        }
        #expect(bothAccepted == 0, "in \(bothAccepted) of 8 rounds both keys were accepted for one server")
    }
}
