import Foundation
import TTBasics
import Testing

/// The version is kept in one place, `TTConnectVersion.current`; the docs quote it (`tt-connect 0.1.0` from
/// `--version`, the package file name, the changelog). This fails when they drift apart.
@Suite("Version in the docs")
struct VersionInDocsTests {
    /// The repository root, from this file's path (Tests/TTBasicsTests/…).
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("every version the README and docs/ quote is TTConnectVersion.current")
    func docsQuoteTheVersion() throws {
        let documents =
            ["README.md", "CONTRIBUTING.md"]
            + (try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("docs").path))
            .filter { $0.hasSuffix(".md") }.map { "docs/\($0)" }
        var quoted = 0
        for document in documents {
            let text = try Self.text(document)
            // `tt-connect 0.1.0` (--version) and `tt-connect_0.1.0_amd64.deb`.
            for match in text.matches(of: /tt-connect[ _]([0-9]+\.[0-9]+\.[0-9]+)/) {
                quoted += 1
                #expect(String(match.1) == TTConnectVersion.current, "\(document): \(match.0)")
            }
        }
        #expect(quoted > 0, "the README quotes the version (tt-connect --version)")
    }

    @Test("the changelog has a section for the current version or for what follows it")
    func changelogNamesTheVersion() throws {
        let changelog = try Self.text("CHANGELOG.md")
        let current = TTConnectVersion.current
        #expect(changelog.contains("\n## \(current) ") || changelog.contains("\n## Unreleased (after \(current))"))
    }
}
