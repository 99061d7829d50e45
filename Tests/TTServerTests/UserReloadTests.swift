import Prometheus
import TTProtocol
import TTServer
import Testing

@Suite("Users file reloads that could lock everyone out")
struct UserReloadTests {
    private func directory(_ names: [String]) -> UserDirectory {
        UserDirectory(
            Dictionary(uniqueKeysWithValues: names.map { ($0, PasswordHash(hashing: "pw", iterations: 1_000)) })
        )
    }

    @Test("A reload to no users is refused and the old users stay")
    func zeroRefused() throws {
        let store = UserStore(directory(["alice", "bob"]))
        let emptied = try UserDirectory(parsing: "# all gone\n\n", source: "users")
        let error = #expect(throws: UsersReloadRefused.self) { try store.reload(with: emptied) }
        #expect(error?.previousUsers == 2)
        #expect(error?.description.contains("# empty") == true)
        #expect(store.current.userNames == ["alice", "bob"])
    }

    @Test("A file saying '# empty' removes every user on purpose")
    func declaredEmpty() throws {
        let store = UserStore(directory(["alice"]))
        let emptied = try UserDirectory(parsing: "# nobody may log in for now\n  # empty\n", source: "users")
        #expect(emptied.declaresEmpty)
        let changes = try store.reload(with: emptied)
        #expect(changes == UserDirectory.Changes(users: 0, added: 0, removed: 1, changed: 0))
        #expect(store.current.userNames.isEmpty)
        // Empty to empty needs no marker: nobody is locked out who was not already.
        _ = try store.reload(with: try UserDirectory(parsing: "", source: "users"))
        #expect(try UserDirectory(parsing: "# empty-ish\n", source: "users").declaresEmpty == false)
    }

    @Test("Removing more than half of the users is flagged; half or fewer is not")
    func mostRemoved() throws {
        let store = UserStore(directory(["a", "b", "c"]))
        let changes = try store.reload(with: directory(["a", "d"]))
        #expect(changes.previousUsers == 3)
        #expect(changes.removed == 2)
        #expect(changes.removesMostUsers)
        #expect(store.current.userNames == ["a", "d"])
        let half = try UserStore(directory(["a", "b", "c", "d"])).reload(with: directory(["a", "b"]))
        #expect(!half.removesMostUsers)
    }

    @Test("/metrics carries each file's last reload outcome and time")
    func reloadGauges() {
        let registry = PrometheusCollectorRegistry()
        let metrics = ServerMetrics(factory: PrometheusMetricsFactory(registry: registry))
        metrics.reloaded(.users, succeeded: true, at: 1_000)
        metrics.reloaded(.users, succeeded: false, at: 2_000)
        metrics.reloaded(.tlsCertificate, succeeded: true, at: 1_500)
        let text = registry.emitToString()
        #expect(metricValue(text, #"tt_server_reload_success{file="users"}"#) == 0)
        #expect(metricValue(text, #"tt_server_reload_timestamp_seconds{file="users"}"#) == 2_000)
        #expect(metricValue(text, #"tt_server_reload_success{file="tls_certificate"}"#) == 1)
        #expect(metricValue(text, #"tt_server_reload_timestamp_seconds{file="tls_certificate"}"#) == 1_500)
    }
}
