import FoundationEssentials
import Glibc
import Synchronization
import TTBasics

/// The TMSS10API-style trace log: when `TMSSAPILOGDIR` names an existing directory, every event of the client
/// library is appended to `TMSSAPILOG-<pid>.txt` there, one `HH:MM:SS: TMSS10API_…` line each. A symbolic link,
/// a FIFO or another user's file found under that name is never written to: the trace is off then. A file stops
/// growing at 64 MiB with one last line saying so.
///
/// Lines never contain a password, a proxy credential or a key. When tracing is off every method returns at
/// once without formatting anything (the message is an autoclosure), so it costs nothing measurable.
public final class APITrace: Sendable {
    /// The environment variable naming the trace directory.
    public static let environmentVariable = "TMSSAPILOGDIR"

    /// The process-wide trace, configured from the environment on first use.
    public static let shared = APITrace(environment: ProcessInfo.processInfo.environment)

    /// A trace that records nothing.
    public static let disabled = APITrace(fileDescriptor: nil, path: nil)

    /// The most bytes one trace file holds (64 MiB), so a long-running program (a `forward` relaying for days, a
    /// loop of requests: two lines each) cannot fill the disk; a line saying so follows the last event kept.
    static let sizeLimit = 64 << 20

    private let fileDescriptor: Int32?
    private let limit: Int
    /// Bytes in the file: its size when opened and every line taken since (lines over the limit included).
    private let size: Atomic<Int>

    /// The file being written, or `nil` when tracing is off.
    public let path: String?

    /// Whether events are being recorded.
    public var isEnabled: Bool { fileDescriptor != nil }

    private init(fileDescriptor: Int32?, path: String?, sizeLimit: Int = APITrace.sizeLimit) {
        self.fileDescriptor = fileDescriptor
        self.path = path
        limit = sizeLimit
        var status = stat()
        size = Atomic(fileDescriptor.map { fstat($0, &status) == 0 ? Int(status.st_size) : 0 } ?? 0)
    }

    /// Opens `TMSSAPILOG-<pid>.txt` in the directory named by `TMSSAPILOGDIR` in `environment`, if that
    /// directory exists; otherwise the trace is off.
    public convenience init(environment: [String: String], processID: Int32? = nil) {
        self.init(environment: environment, processID: processID, sizeLimit: Self.sizeLimit)
    }

    /// As ``init(environment:processID:)``, with another size limit (tests).
    convenience init(environment: [String: String], processID: Int32? = nil, sizeLimit: Int) {
        guard let directory = environment[Self.environmentVariable], !directory.isEmpty else {
            self.init(fileDescriptor: nil, path: nil)
            return
        }
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory else {
            self.init(fileDescriptor: nil, path: nil)
            return
        }
        let path = FilePathText.join(directory, "TMSSAPILOG-\(processID ?? getpid()).txt")
        let fd = Self.openOwnFile(path)
        self.init(fileDescriptor: fd, path: fd == nil ? nil : path, sizeLimit: sizeLimit)
    }

    /// Opens `path` for appending, or `nil` when what is there is not this user's own regular file.
    ///
    /// The directory may be one other users can write to (`/tmp`) and the name is predictable: someone could put a
    /// symbolic link there (the trace would append to whatever it points at, with this user's rights), a FIFO
    /// (opening it would block the program), or a file of their own (they would read the trace). None is used.
    private static func openOwnFile(_ path: String) -> Int32? {
        // O_APPEND makes each line's single write(2) atomic, so threads and processes never interleave lines.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        guard fd >= 0 else { return nil }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_uid == geteuid(),
            status.st_nlink == 1
        else {
            close(fd)
            return nil
        }
        return fd
    }

    deinit {
        if let fileDescriptor { close(fileDescriptor) }
    }

    /// Appends one event line, e.g. `record("TMSS10API_Term")` → `17:39:25: TMSS10API_Term`.
    public func record(_ event: @autoclosure () -> String) {
        guard let fileDescriptor, size.load(ordering: .relaxed) <= limit else { return }
        let line = Array("\(Self.timestamp()): \(event())\n".utf8)
        let (before, after) = size.wrappingAdd(line.count, ordering: .relaxed)
        guard after <= limit else {
            // Exactly one line crosses the limit: its thread says so, once.
            if before <= limit {
                let notice =
                    "TMSS10API_Trace: the trace reached its limit of \(limit) bytes; later events are not recorded"
                Self.append(Array("\(Self.timestamp()): \(notice)\n".utf8), to: fileDescriptor)
            }
            return
        }
        Self.append(line, to: fileDescriptor)
    }

    private static func append(_ line: [UInt8], to fileDescriptor: Int32) {
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return [parts.tm_hour, parts.tm_min, parts.tm_sec].map { NumberText.zeroPadded($0, width: 2) }.joined(
            separator: ":"
        )
    }
}
