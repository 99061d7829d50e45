import CProcessControl
import Glibc
import TTBasics

/// The client tools' one way to stop on a signal: while it lives, each of its signals writes a byte to a pipe, so
/// a loop waits for "the interval passed or a signal came" in one `poll`, or adds ``descriptor`` to the `poll` it
/// already makes. The servers, which are asynchronous, use UnixSignals; the client tools are synchronous.
///
/// No thread polls a flag and no Dispatch source runs: the C handler (CProcessControl) only writes the byte,
/// which is async-signal-safe. One wake-up is installed at a time; the previous handlers come back on deinit.
package final class SignalWakeup {
    private let signals: [Int32]
    private let readEnd: Int32
    private let writeEnd: Int32
    private let previous: UnsafeMutableRawPointer

    /// The read end of the pipe: readable once one of the signals has arrived.
    package var descriptor: Int32 { readEnd }

    /// Traps `signals` (SIGINT, SIGTERM) until deinit, and unblocks them in the calling thread: a
    /// parent may have started us with them blocked (a child inherits the mask), and they must still arrive.
    /// - Throws: an internal error (exit 1) with the system's words when no pipe or handler can be set up.
    package init(_ signals: [Int32]) throws(CommandFailure) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw Self.failure("pipe") }
        for end in ends {
            // Non-blocking: a handler must never block on a full pipe (one byte already wakes the reader).
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        let size = Int(CProcessControl_signalDispositionSize())
        let previous = UnsafeMutableRawPointer.allocate(byteCount: size * max(signals.count, 1), alignment: 16)
        // Undone here, before any stored property is set: once they all are, a throw runs deinit, which would
        // free and close everything a second time.
        guard CProcessControl_installSignalWakeup(signals, Int32(signals.count), ends[1], previous) == 0 else {
            let error = Self.failure("sigaction")
            previous.deallocate()
            Glibc.close(ends[0])
            Glibc.close(ends[1])
            throw error
        }
        self.signals = signals
        readEnd = ends[0]
        writeEnd = ends[1]
        self.previous = previous
        var mask = sigset_t()
        sigemptyset(&mask)
        for number in signals { sigaddset(&mask, number) }
        pthread_sigmask(SIG_UNBLOCK, &mask, nil)
    }

    private static func failure(_ call: String) -> CommandFailure {
        CommandFailure(exitCode: 1, message: "cannot trap signals: \(call): \(SystemErrorText.describe(errno: errno))")
    }

    deinit {
        CProcessControl_removeSignalWakeup(signals, Int32(signals.count), previous)
        previous.deallocate()
        Glibc.close(readEnd)
        Glibc.close(writeEnd)
    }

    /// The number of a signal that has arrived, consuming its byte; `nil` when none has.
    package func takeSignal() -> Int32? {
        var byte: UInt8 = 0
        return Glibc.read(readEnd, &byte, 1) == 1 ? Int32(byte) : nil
    }

    /// Whether one of the signals has arrived (it stays arrived: the byte is not consumed).
    package var hasArrived: Bool { wait(upTo: .zero) }

    /// Waits until one of the signals arrives or `interval` passes.
    /// - Returns: `true` when a signal arrived.
    package func wait(upTo interval: Duration) -> Bool {
        let deadline = ContinuousClock.now + interval
        while true {
            let left = deadline - ContinuousClock.now
            let milliseconds = left <= .zero ? 0 : Int32(clamping: left.wholeMillisecondsRoundedUp)
            var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return true }
            // EINTR: the signal itself may have interrupted the poll; the next round sees its byte.
            if ready < 0, errno == EINTR { continue }
            if ready < 0 || left <= .zero { return false }
        }
    }
}

@available(*, unavailable)
extension SignalWakeup: Sendable {}
