import Foundation
import TTClient

/// async-ping SERVER_HOST:PORT SERVER_KEY [PROXY_URL]
///
/// Connects to the framework server (through the HTTP CONNECT proxy when a proxy URL is given), checks that the
/// server presents the key with fingerprint SERVER_KEY (`SHA256:…`, printed by tt-server at start), logs in
/// with TT_USER and TT_PASSWORD from the environment (default batch:batch), pings three times, echoes a
/// message, and closes. Exits 1 with the library's message on failure.
let arguments = CommandLine.arguments.dropFirst()
guard arguments.count == 2 || arguments.count == 3 else {
    print("usage: async-ping SERVER_HOST:PORT SERVER_KEY [PROXY_URL]")
    exit(2)
}
let environment = ProcessInfo.processInfo.environment

do {
    var configuration = ClientConfiguration(
        server: try Endpoint(parsing: arguments[arguments.startIndex], defaultPort: 5000),
        credentials: Credentials(
            user: environment["TT_USER"] ?? "batch",
            password: environment["TT_PASSWORD"] ?? "batch"
        ),
        identity: .pinned(try IdentityFingerprint(parsing: arguments[arguments.startIndex + 1])),
        connectTimeout: .seconds(10),
        requestTimeout: .seconds(10)
    )
    if arguments.count == 3 {
        configuration.route = .proxy(try HTTPProxy(parsing: arguments[arguments.startIndex + 2]), HTTPProxyOptions())
    }
    let client = AsyncFrameworkClient(configuration: configuration)
    try await client.connect()
    let via = arguments.count == 3 ? " through \(arguments[arguments.startIndex + 2])" : ""
    print("connected to \(configuration.server)\(via), logged in, server key verified")
    for sequence in 1...3 {
        let started = ContinuousClock.now
        let pong = try await client.ping()
        print("ping \(sequence): \(pong.rc) in \(ContinuousClock.now - started)")
    }
    let message = Array("hello from an async client".utf8)
    let echo = try await client.send(RequestPacket(function: .echo, payload: message))
    guard echo.payload == message else {
        print("echo came back different: \(echo.payload.count) bytes")
        exit(1)
    }
    print("echo: \(String(decoding: echo.payload, as: UTF8.self))")
    await client.close()
} catch let error as FrameworkClientError {
    print("failed at \(error.stage): \(error.message)")
    exit(1)
} catch {
    print("failed: \(error)")
    exit(1)
}
