import Foundation
import TTClient
import TTProtocol
import Testing

/// The code of TTClient.docc/GettingStarted.md's sections compiles here, where every warning is an error (issue 22:
/// the "Errors" snippet warned "result of call to 'send' is unused"), and the article must show exactly this code.
@Suite("GettingStarted's snippets")
struct GettingStartedSnippetTests {
    /// The article's "Log in and send requests" snippet, verbatim between the markers.
    static func loginSnippet(client: AsyncFrameworkClient) async throws {
        // snippet: Log in and send requests
        try await client.ping()
        let answer = try await client.send(RequestPacket(function: .echo, payload: Array("hello".utf8)))
        if answer.rc == .requestOK { print(answer.payload.count, "bytes back") }
        await client.close()
        // end of snippet
    }

    /// The article's "Errors" snippet, verbatim between the markers.
    static func errorsSnippet(client: AsyncFrameworkClient, request: RequestPacket) async throws {
        // snippet: Errors
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

    @Test("each snippet of the article is the code compiled here", arguments: ["Log in and send requests", "Errors"])
    func snippetMatchesTheArticle(section: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let article = try String(
            contentsOf: root.appendingPathComponent("Sources/TTClient/TTClient.docc/GettingStarted.md"),
            encoding: .utf8
        )
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let heading = try #require(article.range(of: "## \(section)\n"))
        let block = try #require(
            article[heading.upperBound...].firstMatch(of: /```swift\n(?<code>(?:.|\n)*?)```/)?.output.code
        )
        let marker = try #require(source.range(of: "// snippet: \(section)\n"))
        let end = try #require(source[marker.upperBound...].range(of: "// end of snippet"))
        let compiled = source[marker.upperBound..<end.lowerBound]
        // The same lines, whatever the indentation of the function around them here.
        let lines = { (text: Substring) in
            text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        #expect(lines(block) == lines(compiled), "\(block)")
    }
}
