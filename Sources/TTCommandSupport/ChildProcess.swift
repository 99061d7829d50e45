import Glibc
import TTBasics

/// Runs another program for what it prints (a settings tool, an `SSH_ASKPASS` program): `posix_spawn` with no
/// standard input, standard error discarded, the signal mask and dispositions reset; its standard output read
/// within a deadline and a size limit; stopped by its PID (SIGTERM, then SIGKILL) when the deadline passes.
///
/// Foundation's `Process` would do the same, but it is not in FoundationEssentials, and full Foundation would put
/// its ICU data into every tool (docs/ARCHITECTURE.md, "Foundation and the platform").
package enum ChildProcess {
    /// What the program did.
    package struct Outcome: Sendable {
        /// What it printed on standard output, at most the limit asked for.
        package var output: [UInt8]
        /// Its exit status, or `nil` when a signal ended it (also ours, when the deadline passed).
        package var exitStatus: Int32?
        /// Whether the deadline passed before it finished.
        package var timedOut: Bool
    }

    /// Why the program could not be started: the system's words.
    package struct StartFailure: Error, CustomStringConvertible {
        package let description: String
    }

    /// Runs `executable` (a path) with `arguments` and `environment`, reading its output until it closes it,
    /// `limit` bytes are kept (the rest is read and dropped, so the program never blocks on a full pipe), or
    /// `stopAtNewline` and a line has come. Returns once the program has ended: it gets a second to exit after
    /// that, and SIGTERM when the timeout has passed or the second is up, SIGKILL one second later.
    package static func run(
        _ executable: String,
        arguments: [String],
        environment: [String: String],
        timeout: Duration,
        limit: Int,
        stopAtNewline: Bool = false
    ) throws(StartFailure) -> Outcome {
        let deadline = ContinuousClock.now + timeout
        var pipe: [Int32] = [-1, -1]
        // pipe2(O_CLOEXEC) is a GNU extension Swift's Glibc module does not declare; close-on-exec right after.
        guard Glibc.pipe(&pipe) == 0 else { throw StartFailure(description: String(cString: strerror(errno))) }
        for end in pipe { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments: arguments, environment: environment, output: pipe[1])
        } catch {
            close(pipe[0])
            close(pipe[1])
            throw error
        }
        close(pipe[1])
        defer { close(pipe[0]) }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var timedOut = false
        reading: while true {
            if stopAtNewline, output.contains(UInt8(ascii: "\n")) { break }
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                timedOut = true
                break
            }
            var entry = pollfd(fd: pipe[0], events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(min(left.wholeMillisecondsRoundedUp, 1000)))
            if ready < 0, errno == EINTR { continue }
            if ready <= 0 { continue }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(pipe[0], $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break reading }
            output += buffer.prefix(max(0, min(count, limit - output.count)))
        }
        // Past the deadline it is stopped at once; after its line (or its end of output) it has a second to exit.
        let stopAt = timedOut ? ContinuousClock.now : min(deadline, ContinuousClock.now + .seconds(1))
        return Outcome(output: output, exitStatus: reap(pid, stopAt: stopAt), timedOut: timedOut)
    }

    private static func spawn(
        _ executable: String,
        arguments: [String],
        environment: [String: String],
        output: Int32
    ) throws(StartFailure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

        // The caller's thread may block signals (Dispatch and NIO threads do); the program must not inherit that.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw StartFailure(description: String(cString: strerror(result))) }
        return pid
    }

    /// Waits for `pid` to end: SIGTERM when it is still running at `stopAt`, SIGKILL one second later. Its exit
    /// status, or `nil` when a signal ended it.
    private static func reap(_ pid: pid_t, stopAt: ContinuousClock.Instant) -> Int32? {
        var status: Int32 = 0
        var terminated = false
        var killed = false
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0, errno != EINTR { return nil }
            let now = ContinuousClock.now
            if !terminated, now >= stopAt {
                kill(pid, SIGTERM)
                terminated = true
            }
            if !killed, now >= stopAt + .seconds(1) {
                kill(pid, SIGKILL)
                killed = true
            }
            usleep(5_000)
        }
        // WIFEXITED and WEXITSTATUS, which Swift does not import (they are macros).
        return status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }
}
