import Testing

@testable import TTProxy

/// Scenario files that must be refused when tt-proxy loads them, not when a client connects.
@Suite("Scenario parsing")
struct ScenarioParsingTests {
    @Test("respond-repeat cannot make one write of gigabytes from a one-line file")
    func repeatBomb() throws {
        // Seen while writing the scenario fuzz target (Fuzz/); run through it, this line took minutes and 3 GB.
        let line = "respond-repeat 1000000 \"" + String(repeating: "x", count: 3000) + "\""
        // Not #require(throws:): on failure it would print the gigabytes it parsed.
        do {
            _ = try Scenario(parsing: line, name: "bomb")
            Issue.record("a 3 GB write was accepted")
        } catch {
            #expect(error.line == 1)
            #expect(error.message.contains("64 MiB"))
        }
    }

    /// 1,024 x 64 KiB: exactly the 64 MiB limit.
    static let repeated = "respond-repeat 1024 \"" + String(repeating: "x", count: 64 << 10) + "\"\n"

    @Test("consecutive respond lines count toward the same write limit")
    func respondAfterRepeat() throws {
        do {
            _ = try Scenario(parsing: Self.repeated + "respond \"y\"", name: "over")
            Issue.record("a write one byte over 64 MiB was accepted")
        } catch {
            #expect(error.line == 2)
        }
    }

    @Test("a write of exactly 64 MiB still parses")
    func atTheLimit() throws {
        let scenario = try Scenario(parsing: Self.repeated, name: "limit")
        guard case .respond(let bytes) = try #require(scenario.steps.first) else {
            Issue.record("expected one respond step")
            return
        }
        #expect(scenario.steps.count == 1 && bytes.count == Scenario.maxWriteBytes)
    }
}
