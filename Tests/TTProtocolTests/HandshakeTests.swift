import Testing

@testable import TTProtocol

@Suite("Handshake")
struct HandshakeTests {
    @Test("Client and server derive mirrored keys and the client learns the server's identity")
    func handshake() throws {
        let identity = ServerIdentity.generate()
        let client = ClientHandshake()
        #expect(client.hello.count == Handshake.clientHelloSize)
        let (serverHello, serverKeys) = try ServerHandshake(identity: identity).respond(to: client.hello)
        #expect(serverHello.count == Handshake.serverHelloSize)
        let (clientKeys, serverIdentity) = try client.finish(serverHello: serverHello)
        #expect(serverIdentity == identity.publicKey)
        #expect(clientKeys.sendKey == serverKeys.receiveKey && clientKeys.sendIV == serverKeys.receiveIV)
        #expect(clientKeys.receiveKey == serverKeys.sendKey && clientKeys.receiveIV == serverKeys.sendIV)
        #expect(clientKeys.sendKey != clientKeys.receiveKey)
        #expect(!clientKeys.description.contains(clientKeys.sendKey.hex))
    }

    @Test("An HTTP answer instead of a ServerHello is not a framework server")
    func httpAnswer() {
        let http = Array(
            ("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n"
                + "<html><body>Welcome</body></html>\n<!-- padding padding padding padding -->").utf8
        )
        let hello = Array(http.prefix(Handshake.serverHelloSize))
        #expect(hello.count == Handshake.serverHelloSize)
        #expect(throws: ProtocolError.badMagic) { try ClientHandshake().finish(serverHello: hello) }
        #expect(throws: ProtocolError.badMagic) { try Handshake.validatePrefix(Array("HTTP".utf8)) }
        #expect(throws: ProtocolError.badMagic) { try ClientHandshake().finish(serverHello: Array(http.prefix(12))) }
        #expect(ProtocolError.badMagic.kind == .notFrameworkPeer && ProtocolError.badMagic.isHandshakeFailure)
        let error = #expect(throws: ProtocolError.self) { try Handshake.validatePrefix(Array(http.prefix(20))) }
        #expect(error?.description.contains("HTTP/1.1 200 OK\\r\\n") == true)
    }

    @Test("A client hello with the wrong magic is refused by the server")
    func serverBadMagic() {
        var hello = ClientHandshake().hello
        hello[0] = 0x47  // "G" as in GET
        #expect(throws: ProtocolError.badMagic) { try ServerHandshake(identity: .generate()).respond(to: hello) }
    }

    @Test("A wrong protocol version is refused on both sides")
    func wrongVersion() throws {
        var clientHello = ClientHandshake().hello
        clientHello[5] = 2
        #expect(throws: ProtocolError.unsupportedVersion) {
            try ServerHandshake(identity: .generate()).respond(to: clientHello)
        }
        let client = ClientHandshake()
        var (serverHello, _) = try ServerHandshake(identity: .generate()).respond(to: client.hello)
        serverHello[4] = 1
        #expect(throws: ProtocolError.unsupportedVersion) { try client.finish(serverHello: serverHello) }
        #expect(throws: Never.self) { try Handshake.validatePrefix(Handshake.magic + [0, 1]) }
    }

    @Test("A short hello is refused on both sides")
    func shortHello() throws {
        let client = ClientHandshake()
        let (serverHello, _) = try ServerHandshake(identity: .generate()).respond(to: client.hello)
        #expect(throws: ProtocolError.truncatedHello) { try client.finish(serverHello: Array(serverHello.prefix(133))) }
        #expect(throws: ProtocolError.truncatedHello) { try client.finish(serverHello: []) }
        #expect(throws: ProtocolError.truncatedHello) { try client.finish(serverHello: serverHello + [0]) }
        #expect(throws: ProtocolError.truncatedHello) {
            try ServerHandshake(identity: .generate()).respond(to: Array(client.hello.prefix(69)))
        }
    }

    @Test("A ServerHello whose signature does not verify is refused")
    func badSignature() throws {
        let client = ClientHandshake()
        let (serverHello, _) = try ServerHandshake(identity: .generate()).respond(to: client.hello)
        for index in [10, 40, 100] {  // ephemeral key, identity key, signature
            var altered = serverHello
            altered[index] ^= 0x01
            #expect(throws: ProtocolError.badSignature) { try client.finish(serverHello: altered) }
        }
        // A hello answered to another client does not verify for this one (transcript binding).
        #expect(throws: ProtocolError.badSignature) { try ClientHandshake().finish(serverHello: serverHello) }
    }

    @Test(
        "A low-order X25519 key (all-zero shared secret) is refused on both sides",
        arguments: [[UInt8](repeating: 0, count: 32), [1] + [UInt8](repeating: 0, count: 31)]
    )
    func lowOrderKey(point: [UInt8]) throws {
        let clientHello = Handshake.magic + [0, 1] + point + [UInt8](repeating: 7, count: 32)
        #expect(throws: ProtocolError.invalidPeerKey) {
            try ServerHandshake(identity: .generate()).respond(to: clientHello)
        }

        // A (malicious) server that signs a low-order key.
        let identity = ServerIdentity.generate()
        let client = ClientHandshake()
        var serverHello = Handshake.magic + [0, 1] + point + identity.publicKey.rawRepresentation
        serverHello += try identity.sign(
            Handshake.signedMessage(clientHello: client.hello, serverHelloPrefix: serverHello[0..<70])
        )
        #expect(throws: ProtocolError.invalidPeerKey) { try client.finish(serverHello: serverHello) }
        #expect(ProtocolError.invalidPeerKey.kind == .notFrameworkPeer)
    }
}
