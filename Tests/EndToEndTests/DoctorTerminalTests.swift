import Foundation
import TTTestSupport
import Testing

/// `tt-connect doctor` on a terminal redraws its rows in place while routes run; into a pipe it prints each
/// row once, when its route ends, without escape sequences.
@Suite("tt-connect doctor: live rows on a terminal")
struct DoctorTerminalTests {
    static let escape = "\u{1B}["

    @Test("on a pseudo-terminal a slow route shows live progress, then its final row replaces it")
    func liveRedraw() async throws {
        let home = try TemporaryDirectory()
        try await withStarted(ServerProcess.start()) { server in
            // A proxy that reads the CONNECT and never answers: its row stays "trying" until the deadline.
            try await withStarted(ProxyProcess.start(scenario: "never-answers.scenario")) { hanging in
                let hangingURL = "http://\(hanging.address)"
                let arguments = ["doctor", "--proxy", hanging.address, "--timeout", "3", server.address]
                let session = try TerminalSession(
                    BuiltProducts.executable("tt-connect"),
                    arguments,
                    environment: ["HOME": home.path, "PATH": "/usr/bin:/bin", "TT_CONNECT_ETC_DIR": home.path]
                )
                // Live: the route still running, drawn with "…" and "trying" ...
                let live = try await session.waitFor("… \(hangingURL)  ")
                try await session.waitFor("trying", after: live)
                // ... then the same rows redrawn in place (cursor up over the 2 rows, each line cleared) ...
                try await session.waitFor("\(Self.escape)2A", after: live)
                // ... until the final row replaces it.
                let final = try await session.waitFor("✗ \(hangingURL)  ", after: live)
                #expect(try await session.finish() == 0, "\(session.screen)")
                let screen = session.screen
                #expect(screen.contains("\(Self.escape)2K"), "\(screen)")
                #expect(screen.contains("✓ direct  "), "\(screen)")
                let after = String(screen.dropFirst(final))
                #expect(after.contains("exit 12"), "\(screen)")
                #expect(after.contains("recommended: direct"), "\(screen)")
                // The last drawing holds no row still running.
                let lastDrawing = screen.components(separatedBy: "\(Self.escape)2A").last ?? ""
                #expect(!lastDrawing.contains("…"), "\(lastDrawing)")

                // Into a pipe: the same rows, each printed once when its route ends; no escape sequences.
                let piped = try await tool(Array(arguments), home: home, environment: ["TT_CONNECT_ETC_DIR": home.path])
                #expect(piped.status == 0, "\(piped.allOutput)")
                #expect(!piped.allOutput.contains("\u{1B}"), "\(piped.allOutput)")
                #expect(!piped.standardOutput.contains("trying"), "\(piped.standardOutput)")
                let rows = piped.standardOutput.split(separator: "\n").filter {
                    $0.hasPrefix("✗ ") || $0.hasPrefix("✓ ")
                }
                #expect(rows.count == 2, "\(piped.standardOutput)")
                #expect(rows.contains { $0.hasPrefix("✗ \(hangingURL)  ") && $0.contains("exit 12") })
            }
        }
    }
}
