import Foundation
import TTClient
import TTProtocol
import Testing

/// The code of TTClient.docc/GettingStarted.md's "Errors" section compiles here, where every warning is an error
/// (issue 22: it warned "result of call to 'send' is unused"), and the article must show exactly this code.
@Suite("GettingStarted's snippets")
struct GettingStartedSnippetTests {
    /// The article's "Errors" snippet, verbatim between the markers.
    static func errorsSnippet(client: AsyncFrameworkClient, request: RequestPacket) async throws {
        // snippet: errors
        do {
            let answer = try await client.send(request)
            print(answer.rc)
        } catch let error as FrameworkClientError where error.category == .outcomeUnknown {
            // The connection broke after the request left: it may have run. Check before repeating it.
        } catch let error as FrameworkClientError {
            print("\(error.stage): \(error.message)")
        }
        // end of snippet
    }

    @Test("the article's errors snippet is the code compiled here")
    func errorsSnippetMatchesTheArticle() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let article = try String(
            contentsOf: root.appendingPathComponent("Sources/TTClient/TTClient.docc/GettingStarted.md"),
            encoding: .utf8
        )
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let errors = try #require(article.range(of: "## Errors"))
        let block = try #require(
            article[errors.upperBound...].firstMatch(of: /```swift\n(?<code>(?:.|\n)*?)```/)?.output.code
        )
        let compiled = try #require(
            source.firstMatch(of: /\/\/ snippet: errors\n(?<code>(?:.|\n)*?)\s*\/\/ end of snippet/)?.output.code
        )
        // The same lines, whatever the indentation of the function around them here.
        let lines = { (text: Substring) in
            text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        #expect(lines(block) == lines(compiled), "\(block)")
    }
}
