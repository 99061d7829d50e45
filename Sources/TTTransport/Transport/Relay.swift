// CCurl's headers include <sys/socket.h> first in this module, so the socket constants (SHUT_WR, MSG_DONTWAIT,
// MSG_NOSIGNAL) are declared by it; with MemberImportVisibility a release (whole-module) build finds them only
// through that import.
import CCurl
import Glibc

/// Byte counts of a finished relay.
public struct RelayResult: Sendable, Hashable {
    /// Bytes read from the input descriptor and sent to the peer.
    public var bytesToPeer: Int
    /// Bytes received from the peer and written to the output descriptor.
    public var bytesFromPeer: Int
    /// Whether the input reached its end and all of it went to the peer, which was told so (half-close), while the
    /// peer had not ended yet: a peer that ends the connection after this may just be done, as a sink is.
    public var inputFinished: Bool

    public init(bytesToPeer: Int, bytesFromPeer: Int, inputFinished: Bool = false) {
        self.bytesToPeer = bytesToPeer
        self.bytesFromPeer = bytesFromPeer
        self.inputFinished = inputFinished
    }
}

/// Copies bytes both ways between a ``Transport`` and a pair of descriptors (stdin/stdout for `pipe`, or one
/// accepted socket for both in `forward`), in one thread driven by `poll(2)`.
///
/// Each direction has a bounded buffer: when it is full the relay stops reading that side (backpressure), so
/// memory stays constant whatever the sizes and speeds. End of input becomes a half-close towards the peer
/// (``Transport/shutdownWrite()``); the peer's end of stream becomes `shutdown(SHUT_WR)` on an output socket,
/// or `close` of any other output descriptor (the relay then owns it). The relay ends when both directions
/// have ended, or when the input has ended and the transport cannot half-close and the peer has finished too.
/// A write to a closed pipe raises `SIGPIPE`: executables using the relay on stdout ignore that signal. Where they
/// do, input from a regular file or a pipe bound for a plain socket skips the buffer (``SpliceInput``).
public final class Relay {
    private let transport: any Transport
    private let input: Int32
    private let output: Int32
    private let inputIsSocket: Bool
    private let outputIsSocket: Bool
    private let endsWithPeer: Bool
    private var toPeer: RelayBuffer
    /// Set when the input can go to the peer inside the kernel; `toPeer` then stays empty.
    private var spliceInput: SpliceInput?
    private var fromPeer: RelayBuffer
    /// The bytes moved so far, also after ``run(deadline:idleTimeout:onActivity:)`` threw: a tunnel that broke
    /// before anything came back tells a different story from one that broke in the middle.
    public private(set) var progress = RelayResult(bytesToPeer: 0, bytesFromPeer: 0)

    /// - Parameters:
    ///   - transport: the established connection.
    ///   - input: read and sent to the peer.
    ///   - output: receives what the peer sends; may equal `input` for a socket.
    ///   - bufferSize: the bound of each direction's buffer.
    ///   - endsWithPeer: end the relay as soon as the peer has ended its stream and all it sent was written out,
    ///     without waiting for the input to end (`pipe`: a target that hangs up ends the command at once, even
    ///     while standard input is idle; input not yet sent then is dropped, as the peer is gone).
    public init(
        transport: any Transport,
        input: Int32,
        output: Int32,
        bufferSize: Int = 64 * 1024,
        endsWithPeer: Bool = false
    ) {
        self.transport = transport
        self.endsWithPeer = endsWithPeer
        self.input = input
        self.output = output
        inputIsSocket = Self.isSocket(input)
        outputIsSocket = Self.isSocket(output)
        toPeer = RelayBuffer(capacity: bufferSize)
        spliceInput = inputIsSocket ? nil : SpliceInput(input: input, transport: transport)
        fromPeer = RelayBuffer(capacity: bufferSize)
    }

    /// Relays until both directions have ended.
    /// - Parameters:
    ///   - deadline: gives up with ``TransportError/Category/timedOut`` when it passes.
    ///   - idleTimeout: gives up with ``TransportError/Category/timedOut`` when no byte moved in either
    ///     direction for this long (`nil`: never).
    ///   - onActivity: called on this thread after bytes moved (at most once per wake-up), so an owner can
    ///     tell idle relays from busy ones.
    ///   - lingerAfterInput: for a transport that cannot half-close (TLS): once the input has ended and all of
    ///     it was sent, end the relay when the peer has sent nothing for this long (`nil`: wait for the peer to
    ///     end). A client that closed its socket looks like one that half-closed; either way, a peer that stays
    ///     quiet would otherwise hold the relay until the idle timeout.
    ///   - onPeerEnded: called once when the peer ends its stream, before the output is closed: what is said
    ///     then reaches a reader (ssh) that stops listening, or kills us, when the output ends.
    /// - Throws: ``TransportError`` (stage ``TransportError/Stage/io``).
    public func run(
        deadline: Deadline = .never,
        idleTimeout: Duration? = nil,
        onActivity: () -> Void = {},
        lingerAfterInput: Duration? = nil,
        onPeerEnded: (RelayResult) -> Void = { _ in }
    ) throws -> RelayResult {
        var inputOpen = true
        var peerOpen = true
        var peerWriteShut = false
        var outputShut = false
        var bytesFromInput = 0
        var moved = 0
        var idleDeadline = idleTimeout.map { Deadline.after($0) } ?? .never
        var lingerDeadline: Deadline?
        // The peer's socket took no more spliced input: wait for it to drain before moving more.
        var spliceBlocked = false

        while true {
            let total = progress.bytesToPeer + progress.bytesFromPeer + bytesFromInput
            if total != moved {
                moved = total
                if let idleTimeout { idleDeadline = .after(idleTimeout) }
                if lingerDeadline != nil, let lingerAfterInput { lingerDeadline = .after(lingerAfterInput) }
                onActivity()
            }
            // Peer → buffer: drain until wouldBlock (TLS may hold bytes the socket does not show).
            var peerWouldBlock = false
            while peerOpen, fromPeer.freeCount > 0 {
                let outcome = try fromPeer.fillFromTransport { try transport.readSome(into: $0) }
                if case .endOfStream = outcome { peerOpen = false }
                if case .wouldBlock = outcome {
                    peerWouldBlock = true
                    break
                }
                if case .bytes(let count) = outcome { progress.bytesFromPeer += count }
            }
            // Buffer → output.
            var outputBlocked = false
            while !fromPeer.isEmpty {
                let written = try fromPeer.drain { try writeOutput($0) }
                if written == 0 {
                    outputBlocked = true
                    break
                }
            }
            if !peerOpen, fromPeer.isEmpty, !outputShut {
                onPeerEnded(progress)
                if outputIsSocket {
                    _ = shutdown(output, Int32(SHUT_WR))
                } else {
                    // The reader sees end of file once our copy of the pipe is gone. Put /dev/null in its place
                    // rather than closing the descriptor: a later open() (the trace file) must never become fd 1.
                    let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
                    if null >= 0 {
                        _ = dup2(null, output)
                        _ = Glibc.close(null)
                    } else {
                        _ = Glibc.close(output)
                    }
                }
                outputShut = true
            }
            // Buffer → peer.
            var peerBlocked = false
            while !toPeer.isEmpty {
                let written = try toPeer.drain { try transport.writeSome(UnsafeRawBufferPointer($0)) }
                if written == 0 {
                    peerBlocked = true
                    break
                }
                progress.bytesToPeer += written
            }
            if !inputOpen, toPeer.isEmpty, !peerWriteShut {
                try transport.shutdownWrite()
                peerWriteShut = true
                if peerOpen { progress.inputFinished = true }
            }

            if !inputOpen, toPeer.isEmpty, !transport.supportsHalfClose, let lingerAfterInput {
                if lingerDeadline == nil { lingerDeadline = .after(lingerAfterInput) }
                if let lingerDeadline, lingerDeadline.hasPassed, fromPeer.isEmpty { break }
            }
            if outputShut && peerWriteShut { break }
            if outputShut && endsWithPeer { break }
            if outputShut && !inputOpen && toPeer.isEmpty { break }
            if !transport.supportsHalfClose && peerWriteShut && !peerOpen && fromPeer.isEmpty { break }

            // Output drained a full buffer without the peer being read to wouldBlock: read before waiting,
            // or bytes already in the socket (or in TLS) would never wake the poll below.
            if peerOpen, !peerWouldBlock, fromPeer.freeCount > 0 { continue }

            var entries: [pollfd] = []
            let wantInput = inputOpen && toPeer.freeCount > 0 && !spliceBlocked
            if wantInput { entries.append(pollfd(fd: input, events: Int16(POLLIN), revents: 0)) }
            if outputBlocked { entries.append(pollfd(fd: output, events: Int16(POLLOUT), revents: 0)) }
            var transportEvents: Int16 = 0
            if peerOpen && peerWouldBlock { transportEvents |= Int16(POLLIN) }
            if peerBlocked || spliceBlocked { transportEvents |= Int16(POLLOUT) }
            if transportEvents != 0 {
                entries.append(pollfd(fd: transport.pollDescriptor, events: transportEvents, revents: 0))
            }
            if entries.isEmpty { continue }
            let wake = min(deadline, idleDeadline, lingerDeadline ?? .never)
            let ready = Glibc.poll(&entries, nfds_t(entries.count), wake.pollTimeoutMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw TransportError(
                    stage: .io,
                    category: .internalError,
                    message: "poll() failed: \(SystemError.describe(errno))"
                )
            }
            if ready == 0, deadline.hasPassed {
                throw TransportError(
                    stage: .io,
                    category: .timedOut,
                    message: "relaying with \(transport.peerName) timed out"
                )
            }
            if ready == 0, idleDeadline.hasPassed, let idleTimeout {
                throw TransportError(
                    stage: .io,
                    category: .timedOut,
                    message: "the relay with \(transport.peerName) was idle for \(idleTimeout)"
                )
            }
            spliceBlocked = false
            if wantInput, entries[0].revents != 0 {
                if let splice = spliceInput {
                    switch try splice.move(upTo: toPeer.freeCount, peer: transport.peerName) {
                    case .moved(let count):
                        bytesFromInput += count
                        progress.bytesToPeer += count
                    case .endOfInput: inputOpen = false
                    case .socketFull: spliceBlocked = true
                    case .inputEmpty: break
                    case .unsupported: spliceInput = nil
                    }
                } else {
                    let count = try toPeer.fillFromDescriptor { try readInput($0) }
                    if count == 0 { inputOpen = false }
                    if count > 0 { bytesFromInput += count }
                }
            }
        }
        return progress
    }

    /// Reads once from the input (readiness was reported, so this does not block); `0` is end of input,
    /// `-1` means nothing after all.
    private func readInput(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count =
                inputIsSocket
                ? recv(input, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT))
                : read(input, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return -1
            case ECONNRESET: return 0
            default:
                throw TransportError(
                    stage: .io,
                    category: .internalError,
                    message: "reading the input failed: \(SystemError.describe(errno))"
                )
            }
        }
    }

    /// Writes what the output takes: a socket with `MSG_DONTWAIT`, so a full one leaves the relay free to poll;
    /// any other descriptor all of `bytes` in one `write(2)`. A blocking pipe or terminal then waits for its
    /// reader, as the drain loop's back-to-back writes did in `PIPE_BUF` steps before (16 system calls per
    /// 64 KiB, for nothing: only a non-blocking descriptor returns early, and it takes what fits).
    private func writeOutput(_ bytes: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count =
                outputIsSocket
                ? send(output, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                : write(output, bytes.baseAddress, bytes.count)
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return 0
            default:
                throw TransportError(
                    stage: .io,
                    category: .connectionClosed,
                    message: "writing the output failed: \(SystemError.describe(errno))"
                )
            }
        }
    }

    private static func isSocket(_ descriptor: Int32) -> Bool {
        var status = stat()
        return fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFSOCK
    }
}

@available(*, unavailable)
extension Relay: Sendable {}

/// A bounded byte buffer filled at the end and drained from the front.
struct RelayBuffer {
    private var storage: [UInt8]
    private var start = 0
    private var end = 0

    init(capacity: Int) {
        storage = [UInt8](repeating: 0, count: capacity)
    }

    var isEmpty: Bool { start == end }
    var freeCount: Int { storage.count - (end - start) }

    /// Lets `body` write into the free space; keeps what it reports as read (`.bytes(n)` or a count > 0).
    mutating func fillFromTransport(
        _ body: (UnsafeMutableRawBufferPointer) throws -> ReadOutcome
    ) rethrows -> ReadOutcome {
        compact()
        let end = self.end
        let outcome = try storage.withUnsafeMutableBytes {
            try body(UnsafeMutableRawBufferPointer(rebasing: $0[end...]))
        }
        if case .bytes(let count) = outcome { self.end += count }
        return outcome
    }

    /// Lets `body` write into the free space; keeps the count it reports.
    mutating func fillFromDescriptor(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        compact()
        let end = self.end
        let count = try storage.withUnsafeMutableBytes { try body(UnsafeMutableRawBufferPointer(rebasing: $0[end...])) }
        if count > 0 { self.end += count }
        return count
    }

    /// Offers the buffered bytes to `body`; drops the number it reports as taken.
    mutating func drain(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        let (start, end) = (self.start, self.end)
        let taken = try storage.withUnsafeMutableBytes {
            try body(UnsafeMutableRawBufferPointer(rebasing: $0[start..<end]))
        }
        self.start += taken
        if self.start == self.end {
            self.start = 0
            self.end = 0
        }
        return taken
    }

    /// Moves the buffered bytes to the front, but only once less than half the capacity is left behind them:
    /// after every partial send, moving what is left would copy it once more for little room gained.
    private mutating func compact() {
        guard start > 0, storage.count - end < storage.count / 2 else { return }
        let (start, end) = (self.start, self.end)
        storage.withUnsafeMutableBytes { bytes in
            if let base = bytes.baseAddress { memmove(base, base + start, end - start) }
        }
        self.end -= start
        self.start = 0
    }
}
