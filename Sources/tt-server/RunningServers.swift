import FoundationEssentials
import Glibc

/// Finds the tt-server processes on this machine that serve a given users file, so `add-user` can say whether a
/// `SIGHUP` is needed (a running server reads the file only at start and on SIGHUP).
///
/// It reads `/proc/PID/cmdline` for `--users FILE` (or `--users=FILE`) and compares the file by device and
/// inode, so relative paths and symbolic links match too. Processes it may not inspect are not found: the
/// message says so rather than claiming no server runs.
enum RunningServers {
    /// The ids of tt-server processes whose users file is `path`.
    static func using(usersFile path: String) -> [pid_t] {
        guard let target = identity(of: path),
            let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc")
        else { return [] }
        let me = getpid()
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard pid != me, let arguments = commandLine(of: pid),
                let program = arguments.first, program.hasSuffix("tt-server"),
                let users = usersArgument(arguments)
            else { return false }
            let resolved = users.hasPrefix("/") ? users : "/proc/\(pid)/cwd/\(users)"
            guard let found = identity(of: resolved) else { return false }
            return found == target
        }.sorted()
    }

    private static func commandLine(of pid: pid_t) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else {
            return nil
        }
        return data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func usersArgument(_ arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--users", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--users=") { return String(argument.dropFirst("--users=".count)) }
        }
        return nil
    }

    private struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    private static func identity(of path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}
