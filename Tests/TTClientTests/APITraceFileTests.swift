import Foundation
import Glibc
import Testing

@testable import TTClient

/// The trace file is created in a directory the user names, possibly one other users can write to (`/tmp`): what
/// is found there under the trace's name is never written through, and the file does not grow without bound.
@Suite("TMSSAPILOGDIR trace file safety")
struct APITraceFileTests {
    private func withDirectory<T>(_ body: (URL) throws -> T) throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trace-safety-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try body(directory)
    }

    @Test("a symbolic link in the trace file's place is not followed: its target stays untouched, tracing is off")
    func symlinkNotFollowed() throws {
        try withDirectory { directory in
            let target = directory.appendingPathComponent("victim")
            try Data("original\n".utf8).write(to: target)
            let link = directory.appendingPathComponent("TMSSAPILOG-4343.txt").path
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target.path)

            let trace = APITrace(environment: ["TMSSAPILOGDIR": directory.path], processID: 4343)
            trace.record("TMSS10API_Init (API Version=test)")

            #expect(!trace.isEnabled)
            let contents = try String(contentsOf: target, encoding: .utf8)
            #expect(contents == "original\n")
        }
    }

    @Test(
        "a trace file that belongs to another user is not written to",
        .enabled(if: getuid() == 0, "only root can give a file to another user")
    )
    func foreignFileRefused() throws {
        try withDirectory { directory in
            let foreign = directory.appendingPathComponent("TMSSAPILOG-4344.txt").path
            #expect(FileManager.default.createFile(atPath: foreign, contents: Data(), attributes: nil))
            // Another user's file (nobody's), writable by all: whoever made it would read the trace.
            #expect(chmod(foreign, 0o666) == 0)
            #expect(chown(foreign, 65534, 65534) == 0)
            let trace = APITrace(environment: ["TMSSAPILOGDIR": directory.path], processID: 4344)
            trace.record("TMSS10API_Init (API Version=test)")
            #expect(!trace.isEnabled)
            let contents = try Data(contentsOf: URL(fileURLWithPath: foreign))
            #expect(contents.isEmpty)
        }
    }

    @Test("a FIFO in the trace file's place neither blocks the client nor is written to")
    func fifoNotOpened() throws {
        try withDirectory { directory in
            let fifo = directory.appendingPathComponent("TMSSAPILOG-4345.txt").path
            #expect(mkfifo(fifo, 0o600) == 0)
            // Opening a FIFO for writing blocks until a reader comes: the trace must neither hang nor write.
            let trace = APITrace(environment: ["TMSSAPILOGDIR": directory.path], processID: 4345)
            #expect(!trace.isEnabled)
        }
    }

    @Test("the trace stops at its size limit with one line saying so")
    func sizeBounded() throws {
        try withDirectory { directory in
            let trace = APITrace(environment: ["TMSSAPILOGDIR": directory.path], processID: 4346, sizeLimit: 4096)
            let event = "TMSS10API_Send: Function(Ping) Length(0) Flags(0) OptArgs(0)"
            for _ in 0..<1000 { trace.record(event) }
            let path = try #require(trace.path)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.utf8.count <= 4096 + 200)
            let lines = text.split(separator: "\n")
            #expect(lines.count > 10)
            #expect(lines.last?.contains("TMSS10API_Trace: the trace reached its limit of 4096 bytes") == true)
            #expect(lines.dropLast().allSatisfy { $0.hasSuffix(event) })

            // A process that reopens a full file (a reused process ID) adds nothing more.
            let again = APITrace(environment: ["TMSSAPILOGDIR": directory.path], processID: 4346, sizeLimit: 4096)
            again.record(event)
            let after = try String(contentsOfFile: path, encoding: .utf8)
            #expect(after == text)
        }
    }
}
