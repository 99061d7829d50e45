import FoundationEssentials
import Synchronization
import TTBasics
import Testing

@Suite("Number and path text, OS threads")
struct TextAndThreadTests {
    @Test("fixed-point numbers round as printf does; zero padding in any radix")
    func numbers() {
        #expect(NumberText.fixed(0.4, digits: 1) == "0.4")
        #expect(NumberText.fixed(1234.5, digits: 2) == "1234.50")
        #expect(NumberText.fixed(2.0 / 3, digits: 2) == "0.67")
        #expect(NumberText.fixed(-1.25, digits: 1) == "-1.2")
        #expect(NumberText.fixed(9.999, digits: 2) == "10.00")
        #expect(NumberText.fixed(12, digits: 0) == "12")
        #expect(NumberText.zeroPadded(7, width: 2) == "07")
        #expect(NumberText.zeroPadded(123, width: 2) == "123")
        #expect(NumberText.zeroPadded(UInt32(0x1F), width: 2, radix: 16) == "1F")
        #expect(NumberText.zeroPadded(-5, width: 3) == "-005")
    }

    @Test("paths join with one slash; the directory of a bare name is empty")
    func paths() {
        #expect(FilePathText.join("/home/a", ".config/x") == "/home/a/.config/x")
        #expect(FilePathText.join("/home/a/", "/x") == "/home/a/x")
        #expect(FilePathText.join("/", "x") == "/x")
        #expect(FilePathText.join("", "x") == "x")
        #expect(FilePathText.join("a", "") == "a")
        #expect(FilePathText.directory(of: "a/b/c") == "a/b")
        #expect(FilePathText.directory(of: "/c") == "/")
        #expect(FilePathText.directory(of: "c") == "")
        #expect(FilePathText.directory(of: "a/b/") == "a")
        #expect(FilePathText.directory(of: "a//b") == "a")
        #expect(FilePathText.homeDirectory(environment: ["HOME": "/h"]) == "/h")
        // Without HOME, the password database: some absolute directory.
        #expect(FilePathText.homeDirectory(environment: [:]).hasPrefix("/"))
    }

    @Test("a detached thread runs its body under its name; sleep lasts at least its duration")
    func threads() async throws {
        let seen = Mutex<String?>(nil)
        let done = AsyncStream<Void>.makeStream()
        try OSThread.detach(name: "tt-test-thread-long-name") {
            let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
            seen.withLock { $0 = String(name.trimmingWhitespace()) }
            done.continuation.finish()
        }
        for await _ in done.stream {}
        // Linux keeps 15 bytes of a thread's name.
        #expect(seen.withLock { $0 } == "tt-test-thread-")

        let start = ContinuousClock.now
        OSThread.sleep(.milliseconds(30))
        #expect(ContinuousClock.now - start >= .milliseconds(30))
    }

    @Test("trimming(_:) drops only the given characters at both ends")
    func trimmingCharacters() {
        #expect("\"quoted\"".trimming { $0 == "\"" } == "quoted")
        #expect("\"a\"b\"".trimming { $0 == "\"" } == "a\"b")
        #expect("\"\"".trimming { $0 == "\"" } == "")
    }
}
