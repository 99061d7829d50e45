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

    /// Bytes of one Ping request frame on the wire (the size a TCP echo must match).
    static let pingFrameSize = 45
}
