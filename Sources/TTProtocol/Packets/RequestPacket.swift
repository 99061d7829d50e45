/// A client request: function, flags, opt-args and payload (PROTOCOL.md §3, 11-byte header).
public struct RequestPacket: Hashable, Sendable {
    /// Size of the request header, type byte included.
    public static let headerSize = 11

    public var function: FunctionCode
    public var flags: UInt32
    public var optArgs: UInt32
    public var payload: [UInt8]

    /// - Parameters:
    ///   - function: The function to run.
    ///   - flags: Function-specific flags.
    ///   - optArgs: Function-specific optional arguments.
    ///   - payload: Function-specific payload.
    public init(function: FunctionCode, flags: UInt32 = 0, optArgs: UInt32 = 0, payload: [UInt8] = []) {
        self.function = function
        self.flags = flags
        self.optArgs = optArgs
        self.payload = payload
    }

    /// The header bytes (type byte included), without the payload.
    var header: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerSize)
        bytes.append(Packet.requestType)
        bytes.appendBigEndian(function.rawValue)
        bytes.appendBigEndian(flags)
        bytes.appendBigEndian(optArgs)
        return bytes
    }
}
