/// A server response: return code, feedback, elapsed time, avail, count and payload
/// (PROTOCOL.md §3, 19-byte header).
public struct ResponsePacket: Hashable, Sendable {
    /// Size of the response header, type byte included.
    public static let headerSize = 19

    public var rc: ReturnCode
    public var feedback: UInt32
    /// Server time spent on the request, in milliseconds.
    public var elapsedMilliseconds: UInt32
    public var avail: UInt32
    public var count: UInt32
    public var payload: [UInt8]

    /// - Parameters:
    ///   - rc: The return code.
    ///   - feedback: Function-specific feedback value.
    ///   - elapsedMilliseconds: Server time spent on the request.
    ///   - avail: Function-specific "available" value.
    ///   - count: Function-specific count (Echo: the payload length).
    ///   - payload: Function-specific payload.
    public init(
        rc: ReturnCode,
        feedback: UInt32 = 0,
        elapsedMilliseconds: UInt32 = 0,
        avail: UInt32 = 0,
        count: UInt32 = 0,
        payload: [UInt8] = []
    ) {
        self.rc = rc
        self.feedback = feedback
        self.elapsedMilliseconds = elapsedMilliseconds
        self.avail = avail
        self.count = count
        self.payload = payload
    }

    /// The header bytes (type byte included), without the payload.
    var header: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerSize)
        bytes.append(Packet.responseType)
        bytes.appendBigEndian(rc.rawValue)
        bytes.appendBigEndian(feedback)
        bytes.appendBigEndian(elapsedMilliseconds)
        bytes.appendBigEndian(avail)
        bytes.appendBigEndian(count)
        return bytes
    }
}
