import TTProtocol
import TTTestSupport

/// A framework client for server tests, built from TTProtocol pieces over a ``RawConnection``: handshake, then
/// one request and one response at a time. Tests can also reach under it to send forged bytes.
final class TestClient {
    let connection: RawConnection
    let codec: PacketCodec
    let keys: SessionKeys
    let serverIdentity: IdentityPublicKey

    private init(connection: RawConnection, keys: SessionKeys, serverIdentity: IdentityPublicKey) throws {
        self.connection = connection
        self.keys = keys
        self.codec = try PacketCodec(keys: keys)
        self.serverIdentity = serverIdentity
    }

    /// Connects and completes the handshake; `preamble` (a PROXY protocol header) goes before the hello.
    static func connect(
        host: String,
        port: Int,
        preamble: [UInt8] = [],
        localAddress: String? = nil
    ) async throws -> TestClient {
        let connection = try await RawConnection.connect(host: host, port: port, from: localAddress)
        do {
            let handshake = ClientHandshake()
            try await connection.send(preamble + handshake.hello)
            let serverHello = try await connection.receive(exactly: Handshake.serverHelloSize)
            let (keys, identity) = try handshake.finish(serverHello: serverHello)
            return try TestClient(connection: connection, keys: keys, serverIdentity: identity)
        } catch {
            await connection.close()
            throw error
        }
    }

    static func connect(to server: TestServer, preamble: [UInt8] = []) async throws -> TestClient {
        try await connect(host: server.host, port: server.port, preamble: preamble)
    }

    /// Connects, completes the handshake and logs in (frames above 64 KiB need a logged-in session).
    static func connectLoggedIn(
        to server: TestServer,
        user: String = "batch",
        password: String = "batch"
    ) async throws -> TestClient {
        let client = try await connect(to: server)
        let answer = try await client.login(user: user, password: password)
        guard answer.rc == .requestOK else {
            await client.close()
            throw TestClientError.loginFailed(answer.rc)
        }
        return client
    }

    /// Connects as if from `source` behind a balancer: a PROXY v1 header names it (the server must accept them).
    static func connect(to server: TestServer, from source: String) async throws -> TestClient {
        try await connect(to: server, preamble: Array("PROXY TCP4 \(source) 127.0.0.1 40000 5000\r\n".utf8))
    }

    /// Sends `request` and returns the server's answer.
    func send(_ request: RequestPacket, timeout: Duration = .seconds(30)) async throws -> ResponsePacket {
        try await connection.send(codec.encode(.request(request)))
        return try await receiveResponse(timeout: timeout)
    }

    /// Reads one frame and decodes it as a response.
    func receiveResponse(timeout: Duration = .seconds(30)) async throws -> ResponsePacket {
        let header = try codec.decodeHeader(try await connection.receive(exactly: 4, timeout: timeout))
        let body = try await connection.receive(exactly: header.length, timeout: timeout)
        guard case .response(let response) = try codec.decode(header: header, body: body) else {
            throw TestClientError.notAResponse
        }
        return response
    }

    func ping() async throws -> ResponsePacket {
        try await send(RequestPacket(function: .ping))
    }

    func login(user: String, password: String) async throws -> ResponsePacket {
        try await send(
            RequestPacket(function: .login, payload: LoginPayload(user: user, password: password).serialize())
        )
    }

    func logout() async throws -> ResponsePacket {
        try await send(RequestPacket(function: .logout))
    }

    func echo(_ payload: [UInt8]) async throws -> ResponsePacket {
        try await send(RequestPacket(function: .echo, payload: payload))
    }

    func close() async {
        await connection.close()
    }
}

enum TestClientError: Error {
    case notAResponse
    case loginFailed(ReturnCode)
}
