import TTProtocol
import Testing

/// Fixed keys and randoms → exact bytes. The same hex is in docs/PROTOCOL.md, "Test vectors"; it was checked
/// against an independent implementation (Python `cryptography` 48 and zlib 1.2.13).
@Suite("Test vectors")
struct TestVectorTests {
    static let clientEphemeralPrivate = [UInt8](0x00...0x1F)
    static let clientRandom = [UInt8](0x20...0x3F)
    static let serverEphemeralPrivate = [UInt8](0x40...0x5F)
    static let identityPrivate = [UInt8](0x60...0x7F)

    static let clientHello =
        "5454465700018f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f20212223242526272829"
        + "2a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    static let serverHello =
        "54544657000179a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a174553b456dddfc6908e"
        + "cab1c101fe6ab21e2baa0617795b7d43a63482993fd58cc1ef1486b5c03651933f987b5a28a7311e29445e9c4bf03d40"
        + "4f77c3fd673df2fc57c361b63c5e7e67a2444a9255e73f1c260acd736f8386718d90e48bfe02"
    static let c2sKey = "6543e3b1fe2a5daf2c946122884def5663d15e21301f88f3b6f70dfa0ac9fbbe"
    static let c2sIV = "88f1d6299eb1dc9b97c9a49b"
    static let s2cKey = "673e66a51f5e35d3584614f3ad8f0e3ef81e1766dda2cc4c6210b2a6d06dfa3f"
    static let s2cIV = "e9a0b549715dc8fd1fa00283"
    static let fingerprint = "SHA256:aIlNWPGPLDTUnrL0sRDgQs0PMVCk3DkkPX9jvVmMB4M"
    static let firstPingFrame =
        "0000002918878212aea9a10b5cbab97046dbce09e53c70ad0b66e94dfa5551b1a08f70caac957c24a72c5ffa65"
    static let firstOKFrame = "00000027922473ec8e4e5f907f9d60dc98347e28dc360b77b822619531f3e4b053d3b96b95b5d0047b6c72"

    @Test("Handshake, derived keys and the first frames match the published bytes")
    func vectors() throws {
        let client = try ClientHandshake(ephemeralPrivateKey: Self.clientEphemeralPrivate, random: Self.clientRandom)
        let identity = try ServerIdentity(privateKey: Self.identityPrivate)
        let server = try ServerHandshake(identity: identity, ephemeralPrivateKey: Self.serverEphemeralPrivate)
        #expect(client.hello.hex == Self.clientHello)
        let (serverHello, serverKeys) = try server.respond(to: client.hello)
        #expect(serverHello.hex == Self.serverHello)
        let (clientKeys, serverIdentity) = try client.finish(serverHello: serverHello)
        #expect(serverIdentity.fingerprint.description == Self.fingerprint)
        #expect(clientKeys.sendKey.hex == Self.c2sKey)
        #expect(clientKeys.sendIV.hex == Self.c2sIV)
        #expect(clientKeys.receiveKey.hex == Self.s2cKey)
        #expect(clientKeys.receiveIV.hex == Self.s2cIV)
        #expect(serverKeys.receiveKey.hex == Self.c2sKey && serverKeys.sendKey.hex == Self.s2cKey)

        let clientCodec = try PacketCodec(keys: clientKeys)
        let serverCodec = try PacketCodec(keys: serverKeys)
        let ping = try clientCodec.encode(.request(RequestPacket(function: .ping)))
        #expect(ping.hex == Self.firstPingFrame)
        #expect(try serverCodec.decode(frame: ping) == .request(RequestPacket(function: .ping)))
        let ok = try serverCodec.encode(.response(ResponsePacket(rc: .requestOK)))
        #expect(ok.hex == Self.firstOKFrame)
        #expect(try clientCodec.decode(frame: ok) == .response(ResponsePacket(rc: .requestOK)))
    }
}
