import Foundation
import TTClient
import Testing

@Suite("TMSSAPILOGDIR trace log")
struct APITraceTests {
    @Test("events are appended to TMSSAPILOG-<pid>.txt as HH:MM:SS: lines")
    func writesLines() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let trace = APITrace(environment: ["TMSSAPILOGDIR": directory.path], processID: 4242)
        #expect(trace.isEnabled)
        trace.record("TMSS10API_Init (API Version=test)")
        trace.record("TMSS10API_Term")

        let path = directory.appendingPathComponent("TMSSAPILOG-4242.txt").path
        #expect(trace.path == path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].wholeMatch(of: /\d\d:\d\d:\d\d: TMSS10API_Init \(API Version=test\)/) != nil)
        #expect(lines[1].hasSuffix(": TMSS10API_Term"))
    }

    @Test("tracing is off when the variable is unset or names no directory, and never evaluates messages")
    func offWhenNoDirectory() {
        for environment in [[:], ["TMSSAPILOGDIR": "/nonexistent/\(UUID())"], ["TMSSAPILOGDIR": ""]] {
            let trace = APITrace(environment: environment)
            #expect(!trace.isEnabled)
            trace.record(
                { () -> String in
                    Issue.record("a disabled trace formatted its message")
                    return ""
                }()
            )
        }
    }
}
