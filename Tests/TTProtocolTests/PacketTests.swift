import TTProtocol
import Testing

@Suite("Packets")
struct PacketTests {
    @Test("A request serializes to the 11-byte header of PROTOCOL.md and parses back")
    func requestLayout() throws {
        let request = RequestPacket(function: .echo, flags: 0x0102_0304, optArgs: 0x0A0B_0C0D, payload: [9, 8])
        let bytes = Packet.request(request).serialize()
        #expect(bytes == [0x01, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, 0x0A, 0x0B, 0x0C, 0x0D, 9, 8])
        #expect(try Packet(parsing: bytes) == .request(request))
    }

    @Test("A response serializes to the 19-byte header of PROTOCOL.md and parses back")
    func responseLayout() throws {
        let response = ResponsePacket(
            rc: .loginRejected,
            feedback: 1,
            elapsedMilliseconds: 2,
            avail: 3,
            count: 4,
            payload: [0xFF]
        )
        let bytes = Packet.response(response).serialize()
        #expect(bytes == [2, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0xFF])
        #expect(try Packet(parsing: bytes) == .response(response))
    }

    @Test("Every function and return code round-trips with an empty and a non-empty payload")
    func everyPacketType() throws {
        for function in [FunctionCode.ping, .login, .logout, .echo, FunctionCode(rawValue: 999)] {
            for payload in [[], recordLikeBytes(300)] {
                let packet = Packet.request(RequestPacket(function: function, payload: payload))
                #expect(try Packet(parsing: packet.serialize()) == packet)
            }
        }
        for rawValue in UInt16(0)...7 {
            let packet = Packet.response(ResponsePacket(rc: ReturnCode(rawValue: rawValue), count: 5, payload: [1]))
            #expect(try Packet(parsing: packet.serialize()) == packet)
        }
    }

    @Test("Codes have the human names of PROTOCOL.md")
    func names() {
        #expect(ReturnCode.requestOK.description == "Request OK")
        #expect(ReturnCode.notLoggedIn.description == "Not logged in")
        #expect(ReturnCode.loginRejected.description == "Login rejected")
        #expect(ReturnCode.unknownFunction.description == "Unknown function")
        #expect(ReturnCode.badRequest.description == "Bad request")
        #expect(ReturnCode.serverBusy.description == "Server busy")
        #expect(ReturnCode.internalError.description == "Internal error")
        #expect(ReturnCode(rawValue: 77).description == "RC 77")
        #expect(FunctionCode.ping.description == "Ping")
        #expect(FunctionCode.echo.description == "Echo")
        #expect(FunctionCode(rawValue: 42).description == "Function(42)")
        #expect(FunctionCode.logout.requiresLogin && !FunctionCode.ping.requiresLogin)
    }

    @Test("Packets shorter than their header are rejected as truncated")
    func truncated() {
        for bytes: [UInt8] in [
            [], [1], Array(repeating: 0, count: 10).replacing(at: 0, with: 1),
            Array(repeating: 0, count: 18).replacing(at: 0, with: 2),
        ] {
            #expect(throws: ProtocolError.truncatedPacket) { try Packet(parsing: bytes) }
        }
        #expect(ProtocolError.truncatedPacket.kind == .malformedPacket)
    }

    @Test("A packet type other than request or response is rejected")
    func unknownType() {
        for type: UInt8 in [0, 3, 0xFF] {
            #expect(throws: ProtocolError.unknownPacketType) {
                try Packet(parsing: [type] + Array(repeating: 0, count: 30))
            }
        }
    }

    @Test("A login payload round-trips, UTF-8 included, and never shows the password")
    func loginRoundTrip() throws {
        let login = LoginPayload(user: "bätch", password: "s3cr€t")
        let bytes = try login.serialize()
        #expect(bytes.prefix(2) == [0, 6])
        #expect(try LoginPayload(parsing: bytes) == login)
        #expect(!login.description.contains("s3cr"))
        #expect(
            try LoginPayload(parsing: LoginPayload(user: "", password: "").serialize())
                == LoginPayload(user: "", password: "")
        )
    }

    @Test(
        "Malformed login payloads are rejected",
        arguments: [
            [UInt8](),  // no user length
            [0],  // half a length
            [0, 5, 0x61],  // user longer than the payload
            [0, 1, 0x61],  // no password length
            [0, 1, 0x61, 0, 3, 0x62],  // password longer than the payload
            [0, 1, 0x61, 0, 1, 0x62, 0],  // trailing byte
            [0, 1, 0xFF, 0, 0],  // user is not UTF-8
            [0, 0, 0, 2, 0xC3, 0x28],  // password is not UTF-8
        ]
    )
    func malformedLogin(bytes: [UInt8]) {
        #expect(throws: ProtocolError.malformedLoginPayload) { try LoginPayload(parsing: bytes) }
    }

    @Test("A login field over 65535 bytes cannot be encoded")
    func loginTooLong() {
        let long = String(repeating: "x", count: 65536)
        #expect(throws: ProtocolError.fieldTooLong) { try LoginPayload(user: long, password: "").serialize() }
        #expect(throws: ProtocolError.fieldTooLong) { try LoginPayload(user: "u", password: long).serialize() }
    }
}

extension Array where Element == UInt8 {
    fileprivate func replacing(at index: Int, with value: UInt8) -> [UInt8] {
        var copy = self
        copy[index] = value
        return copy
    }
}
