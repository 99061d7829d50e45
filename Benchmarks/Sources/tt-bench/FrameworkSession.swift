import Glibc
import TTProtocol

/// One framework session over a blocking loopback socket, straight on TTProtocol: handshake, then requests
/// answered in order. No client library in between, so it measures the server and the protocol alone.
final class FrameworkSession {
    private let socket: Socket
    private let codec: PacketCodec

    init(port: UInt16, timeout: Double) throws {
        socket = try Socket.connectLoopback(port: port, timeout: timeout)
        let handshake = ClientHandshake()
        try socket.writeAll(handshake.hello)
        let serverHello = try socket.readExactly(Handshake.serverHelloSize)
        let (keys, _) = try handshake.finish(serverHello: serverHello)
        codec = try PacketCodec(keys: keys)
    }

    /// Sends `request` and returns the response.
    func send(_ request: RequestPacket) throws -> ResponsePacket {
        try socket.writeAll(codec.encode(.request(request)))
        let header = try codec.decodeHeader(socket.readExactly(FrameHeader.size))
        let body = try socket.readExactly(header.length)
        guard case .response(let response) = try codec.decode(header: header, body: body) else {
            throw BenchError.failed("the server sent a request packet")
        }
        return response
    }

    /// One Ping; fails unless the answer is `Request OK`.
    func ping() throws {
        let response = try send(RequestPacket(function: .ping))
        guard response.rc == .requestOK else { throw BenchError.failed("ping answered \(response.rc)") }
    }

    /// Pings with `depth` requests in flight (the server answers in order) until `end`, then reads the answers
    /// still on the way; returns how many answers came before `end`. Answers are read in bulk and every answer
    /// read sends one more Ping, in one write: with a few sessions several pings deep, the load generator spends
    /// less CPU per ping than the server (no thread wake-up per ping), so the server is the bound.
    func pingPipelined(depth: Int, until end: ContinuousClock.Instant) throws -> Int {
        let ping = Packet.request(RequestPacket(function: .ping))
        var frames: [UInt8] = []
        for _ in 0..<depth { frames += try codec.encode(ping) }
        try socket.writeAll(frames)
        var inFlight = depth
        var answered = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var filled = 0
        // Bounded: once `end` has passed nothing more is sent, and every read takes at least one byte (or fails
        // on the socket's timeout) of the `inFlight` answers left.
        while inFlight > 0 {
            let room = buffer.count - filled
            let count = try buffer.withUnsafeMutableBytes { try socket.readSome($0.baseAddress! + filled, room) }
            guard count > 0 else { throw BenchError.failed("connection closed with \(inFlight) pings unanswered") }
            filled += count
            var start = 0
            var done = 0
            while filled - start >= FrameHeader.size {
                let header = try FrameHeader(
                    parsing: buffer[start..<start + FrameHeader.size],
                    limits: codec.limits
                )
                let frameEnd = start + FrameHeader.size + header.length
                guard frameEnd <= buffer.count else { throw BenchError.failed("answer of \(header.length) bytes") }
                guard frameEnd <= filled else { break }
                let packet = try buffer.withUnsafeBytes { bytes in
                    try codec.decode(
                        header: header,
                        body: UnsafeRawBufferPointer(rebasing: bytes[start + FrameHeader.size..<frameEnd])
                    )
                }
                guard case .response(let response) = packet, response.rc == .requestOK else {
                    throw BenchError.failed("ping answered \(packet)")
                }
                start = frameEnd
                done += 1
            }
            if start > 0 {
                let rest = filled - start
                buffer.withUnsafeMutableBytes { _ = memmove($0.baseAddress!, $0.baseAddress! + start, rest) }
                filled = rest
            }
            inFlight -= done
            guard done > 0, ContinuousClock.now < end else { continue }
            answered += done
            frames.removeAll(keepingCapacity: true)
            for _ in 0..<done { frames += try codec.encode(ping) }
            try socket.writeAll(frames)
            inFlight += done
        }
        return answered
    }

    /// Bytes of one Ping request frame on the wire (the size a TCP echo must match).
    static let pingFrameSize = 45
}
