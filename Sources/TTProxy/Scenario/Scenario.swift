import NIOCore
import TTBasics

/// A scripted misbehaving proxy, parsed from a `proxy-fixtures/` file (format: `proxy-fixtures/README.md`).
///
/// Each connection reads one request head, then runs the steps in order.
public struct Scenario: Sendable {
    enum Step: Sendable, Equatable {
        /// Write these bytes (consecutive `respond` lines form one write), with held target bytes appended.
        case respond([UInt8])
        /// Write each byte on its own, pausing between them.
        case respondBytewise([UInt8], pause: TimeAmount)
        case delay(TimeAmount)
        /// Dial the requested target now.
        case connect
        /// Wait (bounded) for the target's first bytes and hold them for the next `respond`.
        case awaitTargetBytes
        case tunnel
        case close
        case reset
        case neverAnswer
        /// Unless the request carries these Basic credentials, run the next `count` steps, then read the next
        /// request and start over; with them, skip those steps.
        case expectAuth(user: String, password: String, count: Int)
        case endAuth
    }

    /// The most bytes one write (consecutive `respond` lines) may hold: `respond-repeat` must not let a short
    /// file allocate gigabytes when the proxy starts.
    static let maxWriteBytes = 64 << 20

    /// The file name, for logs.
    public let name: String
    let steps: [Step]

    /// Loads and parses a scenario file: a regular file of at most 1 MiB.
    public init(contentsOf path: String) throws(ScenarioError) {
        // Read no further than the bound, and only a regular file: a FIFO blocked the start for good, a device
        // (/dev/zero) was read until memory ran out.
        let file: FilePermissions.CheckedFile?
        do {
            file = try FilePermissions.readChecking(path, what: "the file", limit: 1 << 20)
        } catch {
            throw ScenarioError(source: path, line: nil, message: error.description)
        }
        guard let file, let text = String(validating: file.bytes, as: UTF8.self) else {
            throw ScenarioError(
                source: path,
                line: nil,
                message: "cannot read the file: \(SystemErrorText.readFailure(path))"
            )
        }
        try self.init(parsing: text, name: path)
    }

    /// Parses scenario text; `name` names the source in errors.
    public init(parsing text: String, name: String) throws(ScenarioError) {
        self.name = name
        var steps: [Step] = []
        var openAuth: (index: Int, line: Int)?
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            func fail(_ message: String) -> ScenarioError {
                ScenarioError(source: name, line: lineNumber, message: message)
            }
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let directive = line.prefix { $0 != " " && $0 != "\t" }
            let argument = line.dropFirst(directive.count).drop { $0 == " " || $0 == "\t" }
            switch directive {
            case "respond":
                let bytes = try Self.quoted(argument, fail: fail)
                if case .respond(let previous) = steps.last {
                    guard previous.count + bytes.count <= Self.maxWriteBytes else {
                        throw fail("one write of more than \(Self.maxWriteBytes >> 20) MiB")
                    }
                    steps[steps.count - 1] = .respond(previous + bytes)
                } else {
                    steps.append(.respond(bytes))
                }
            case "respond-repeat":
                let count = argument.prefix { $0.isNumber }
                guard let times = Int(count), (1...1_000_000).contains(times) else {
                    throw fail("respond-repeat needs a count 1-1000000, then a quoted string")
                }
                let bytes = try Self.quoted(argument.dropFirst(count.count).drop { $0 == " " }, fail: fail)
                let previousCount = if case .respond(let previous) = steps.last { previous.count } else { 0 }
                // times <= 1,000,000 and a line is far shorter than Int.max / 1,000,000: no overflow.
                guard previousCount + bytes.count * times <= Self.maxWriteBytes else {
                    throw fail("respond-repeat makes one write of more than \(Self.maxWriteBytes >> 20) MiB")
                }
                var repeated: [UInt8] = []
                repeated.reserveCapacity(bytes.count * times)
                for _ in 0..<times { repeated += bytes }
                if case .respond(let previous) = steps.last {
                    steps[steps.count - 1] = .respond(previous + repeated)
                } else {
                    steps.append(.respond(repeated))
                }
            case "respond-bytewise":
                let pauseText = argument.prefix { $0 != " " }
                guard let pause = Self.duration(pauseText) else {
                    throw fail("respond-bytewise needs a pause like 10ms, then a quoted string")
                }
                let bytes = try Self.quoted(argument.dropFirst(pauseText.count).drop { $0 == " " }, fail: fail)
                steps.append(.respondBytewise(bytes, pause: pause))
            case "delay":
                guard let amount = Self.duration(argument) else {
                    throw fail("delay needs a duration like 200ms or 2s")
                }
                steps.append(.delay(amount))
            case "connect", "await-target-bytes", "tunnel", "close", "reset", "never-answer":
                guard argument.isEmpty else { throw fail("\(directive) takes no argument") }
                steps.append(
                    [
                        "connect": .connect, "await-target-bytes": .awaitTargetBytes, "tunnel": .tunnel,
                        "close": .close, "reset": .reset, "never-answer": .neverAnswer,
                    ][String(directive)]!
                )
            case "expect-auth":
                guard openAuth == nil else { throw fail("expect-auth blocks do not nest") }
                let credentials = argument.split(separator: ":", maxSplits: 1)
                guard credentials.count == 2 else { throw fail("expect-auth needs USER:PASSWORD") }
                openAuth = (steps.count, lineNumber)
                steps.append(.expectAuth(user: String(credentials[0]), password: String(credentials[1]), count: 0))
            case "end":
                guard let auth = openAuth, case .expectAuth(let user, let password, _) = steps[auth.index] else {
                    throw fail("end without expect-auth")
                }
                steps[auth.index] = .expectAuth(user: user, password: password, count: steps.count - auth.index)
                steps.append(.endAuth)
                openAuth = nil
            default:
                throw fail("unknown directive '\(directive)'")
            }
        }
        if let auth = openAuth {
            throw ScenarioError(source: name, line: auth.line, message: "expect-auth without end")
        }
        self.steps = steps
    }

    /// `"…"` with `\r \n \t \\ \" \xHH` escapes.
    private static func quoted(
        _ text: Substring,
        fail: (String) -> ScenarioError
    ) throws(ScenarioError) -> [UInt8] {
        let trimmed = text.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        var bytes = Array(String(trimmed).utf8)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") else {
            throw fail("expected a string in double quotes")
        }
        bytes = Array(bytes.dropFirst().dropLast())
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                if byte == UInt8(ascii: "\"") { throw fail("unescaped \" inside a string") }
                result.append(byte)
                continue
            }
            guard index < bytes.count else { throw fail("string ends with a lone backslash") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "r"): result.append(0x0D)
            case UInt8(ascii: "n"): result.append(0x0A)
            case UInt8(ascii: "t"): result.append(0x09)
            case UInt8(ascii: "0"): result.append(0x00)
            case UInt8(ascii: "\\"), UInt8(ascii: "\""): result.append(escape)
            case UInt8(ascii: "x"):
                guard index + 2 <= bytes.count,
                    let value = UInt8(String(decoding: bytes[index..<index + 2], as: UTF8.self), radix: 16)
                else { throw fail("\\x needs two hex digits") }
                result.append(value)
                index += 2
            default:
                throw fail("unknown escape \\\(Character(UnicodeScalar(escape)))")
            }
        }
        return result
    }

    /// `250ms` or `2s` (decimals allowed for seconds).
    private static func duration(_ text: Substring) -> TimeAmount? {
        if text.hasSuffix("ms"), let value = Int64(text.dropLast(2)), value >= 0 {
            return .milliseconds(value)
        }
        if text.hasSuffix("s"), let value = Double(text.dropLast()), value >= 0, value <= 86_400 {
            return .nanoseconds(Int64(value * 1e9))
        }
        return nil
    }
}

/// A scenario file that cannot be used; names the file and line.
public struct ScenarioError: Error, CustomStringConvertible {
    public var source: String
    public var line: Int?
    public var message: String
    public var description: String {
        "scenario \(source)\(line.map { " line \($0)" } ?? ""): \(message)"
    }
}
