/// The payload of a Login request: u16 user length, user (UTF-8), u16 password length, password (UTF-8).
public struct LoginPayload: Hashable, Sendable, CustomStringConvertible, CustomReflectable {
    public var user: String
    public var password: String

    /// - Parameters:
    ///   - user: The user name.
    ///   - password: The password (never shown in ``description``).
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Parses a Login request payload.
    /// - Throws: ``ProtocolError/malformedLoginPayload`` when lengths do not match or text is not UTF-8.
    public init(parsing payload: [UInt8]) throws(ProtocolError) {
        var offset = 0
        func field(_ name: String) throws(ProtocolError) -> String {
            guard payload.count - offset >= 2 else {
                throw ProtocolError.malformedLoginPayload.with(detail: "missing \(name) length")
            }
            let length = Int(payload[offset]) << 8 | Int(payload[offset + 1])
            offset += 2
            guard payload.count - offset >= length else {
                throw ProtocolError.malformedLoginPayload.with(detail: "\(name) longer than the payload")
            }
            let bytes = payload[offset..<offset + length]
            offset += length
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ProtocolError.malformedLoginPayload.with(detail: "\(name) is not UTF-8")
            }
            return text
        }
        user = try field("user")
        password = try field("password")
        guard offset == payload.count else {
            throw ProtocolError.malformedLoginPayload.with(detail: "\(payload.count - offset) trailing bytes")
        }
    }

    /// The payload bytes.
    /// - Throws: ``ProtocolError/fieldTooLong`` when the user or password exceeds 65535 UTF-8 bytes.
    public func serialize() throws(ProtocolError) -> [UInt8] {
        let userBytes = Array(user.utf8)
        let passwordBytes = Array(password.utf8)
        guard userBytes.count <= Int(UInt16.max) else {
            throw ProtocolError.fieldTooLong.with(detail: "user name of \(userBytes.count) bytes")
        }
        guard passwordBytes.count <= Int(UInt16.max) else {
            throw ProtocolError.fieldTooLong.with(detail: "password over 65535 bytes")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + userBytes.count + passwordBytes.count)
        bytes.appendBigEndian(UInt16(userBytes.count))
        bytes += userBytes
        bytes.appendBigEndian(UInt16(passwordBytes.count))
        bytes += passwordBytes
        return bytes
    }

    public var description: String { "LoginPayload(user: \(user), password: <redacted>)" }
    /// `dump()` and debuggers show the user, never the password.
    public var customMirror: Mirror { Mirror(self, children: ["user": user, "password": "<redacted>"]) }
}
