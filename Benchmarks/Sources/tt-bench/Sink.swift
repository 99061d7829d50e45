import ArgumentParser
import Foundation

import Glibc

/// `tt-bench sink`: the far end of a tunnel throughput run. Prints `READY PORT`, accepts one connection, reads
/// until `--bytes` have arrived (then closes) or the stream ends, and prints the bytes, the seconds and the
/// process's CPU seconds from the first byte to the last, so start-up, connection and tunnel set-up are not
/// counted. The CPU is what receiving costs: it differs with the shape of what arrives (copied or spliced).
struct Sink: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sink", abstract: "Count bytes from one connection.")

    @Option(help: "Bytes expected; the sink closes once they arrived.") var bytes: Int
    @Option(help: "Give up after this many seconds.") var timeout = 60.0

    func run() throws {
        let (listener, port) = try Socket.listenLoopback(backlog: 4)
        announce("READY \(port)")
        let deadline = Date(timeIntervalSinceNow: timeout)
        Thread.detachNewThread {
            Thread.sleep(until: deadline)
            FileHandle.standardError.write(Data("sink: timed out after \(deadline)\n".utf8))
            Glibc.exit(1)
        }
        let connection = try listener.accept(timeout: timeout)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256 << 10, alignment: 16)
        defer { buffer.deallocate() }
        var received = try connection.readSome(buffer, 256 << 10)
        let clock = ContinuousClock()
        let first = clock.now
        let firstCPU = processCPUSeconds()
        var last = first
        while received < bytes {
            let n = try connection.readSome(buffer, 256 << 10)
            if n == 0 { break }
            received += n
            last = clock.now
        }
        Measure.report("sink.bytes", Double(received))
        Measure.report("sink.seconds", (last - first).seconds)
        Measure.report("sink.mb_s", Double(received) / (last - first).seconds / 1e6)
        Measure.report("sink.cpu_s", processCPUSeconds() - firstCPU)
    }

    private func processCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
