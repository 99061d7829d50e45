import TTBasics
import Testing

@Suite("ConnectionRegistry")
struct ConnectionRegistryTests {
    private final class Connection: Sendable {}

    @Test("admits up to the cap, reports the rest over the limit, refuses everything once quiescing")
    func admission() {
        let registry = ConnectionRegistry<Connection>(maxConnections: 2)
        let connections = (0..<4).map { _ in Connection() }
        let ids = connections.map(ObjectIdentifier.init)
        #expect(registry.admit(connections[0], id: ids[0]) == .admitted)
        #expect(registry.admit(connections[1], id: ids[1]) == .admitted)
        #expect(registry.admit(connections[2], id: ids[2]) == .overLimit)
        #expect(registry.count == 3)
        registry.remove(id: ids[2])
        registry.remove(id: ids[1])
        #expect(registry.admit(connections[1], id: ids[1]) == .admitted)
        #expect(registry.beginQuiescing().count == 2)
        #expect(registry.admit(connections[3], id: ids[3]) == .shuttingDown)
        #expect(registry.count == 2)
    }

    @Test("waitUntilEmpty returns at once when empty, and when the last connection leaves")
    func drains() async {
        let registry = ConnectionRegistry<Connection>(maxConnections: 10)
        await registry.waitUntilEmpty()
        let connection = Connection()
        let id = ObjectIdentifier(connection)
        #expect(registry.admit(connection, id: id) == .admitted)
        async let drained: Void = registry.waitUntilEmpty()
        try? await Task.sleep(for: .milliseconds(20))
        #expect(registry.openConnections.count == 1)
        registry.remove(id: id)
        await drained
        #expect(registry.count == 0)
    }
}
