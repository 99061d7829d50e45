import Foundation
import Synchronization
import TTClient
import TTProtocol
import TTTransport

/// `tt-soak drive`: clients on every route send Ping, Echo (random sizes up to `--max-echo`) and Login + Logout
/// until `--seconds` have passed, while scripts/soak kills servers and proxies under them.
///
/// Ping and Echo are idempotent: one that fails is sent again (the caller's retry, on top of the client's own
/// ``ReconnectPolicy``) until answered or until `--retry-window` seconds after it was first sent; only then is it
/// lost. An answer with the wrong code or bytes is lost too. Login and Logout are not idempotent and are never
/// sent again by the driver: a failure is reported to the caller, and the ledger records each one's id (its
/// opt-args) for `tt-soak verify`, which looks for ids the servers executed twice.
struct Drive {
    let seconds: Double
    let routes: [SoakRoute]
    let clientsPerRoute: Int
    let maxEcho: Int
    let retryWindow: Double
    let credentials: Credentials
    let ledgerPath: String

    init(_ arguments: Arguments) throws(SoakError) {
        seconds = try arguments.number("seconds", default: 60)
        routes = try arguments.all("route").map { text throws(SoakError) in try SoakRoute(parsing: text) }
        guard !routes.isEmpty else { throw SoakError("at least one --route NAME:SERVER_PORT[:PROXY_PORT]") }
        clientsPerRoute = max(1, Int(try arguments.number("clients", default: 1)))
        maxEcho = Int(try arguments.number("max-echo", default: Double(4 << 20)))
        retryWindow = try arguments.number("retry-window", default: 120)
        // From the environment, so it is not on a command line other users can read.
        guard let password = ProcessInfo.processInfo.environment["TT_SOAK_PASSWORD"] else {
            throw SoakError("TT_SOAK_PASSWORD must hold the password of --user")
        }
        credentials = Credentials(user: try arguments.string("user"), password: password)
        ledgerPath = try arguments.string("ledger")
    }

    func run() throws {
        let tally = Tally()
        let ids = RequestIDs()
        // Incompressible bytes for Echo payloads: each request takes a slice and stamps its id in front.
        guard let random = FileHandle(forReadingAtPath: "/dev/urandom") else {
            throw SoakError("cannot open /dev/urandom")
        }
        let pool = [UInt8](try random.read(upToCount: maxEcho + 8) ?? Data())
        try random.close()
        guard pool.count == maxEcho + 8 else { throw SoakError("/dev/urandom gave \(pool.count) bytes") }
        let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let done = DispatchGroup()
        for route in routes {
            for _ in 0..<clientsPerRoute {
                done.enter()
                let worker = Worker(
                    route: route,
                    credentials: credentials,
                    maxEcho: maxEcho,
                    retryWindow: .milliseconds(Int64(retryWindow * 1000)),
                    pool: pool,
                    tally: tally,
                    ids: ids
                )
                Thread.detachNewThread {
                    worker.run(until: end)
                    done.leave()
                }
            }
        }
        // Each request is bounded by the retry window plus its last attempt's own deadlines (connect 10 s,
        // request 30 s).
        guard done.wait(timeout: .now() + seconds + retryWindow + 60) == .success else {
            throw SoakError("clients did not finish in time")
        }
        try tally.writeLedger(to: ledgerPath)
        print(tally.summary(), terminator: "")
    }
}

/// `NAME:SERVER_PORT[:PROXY_PORT]`: a tt-server on 127.0.0.1, reached directly or through a CONNECT proxy there.
struct SoakRoute: Sendable {
    var name: String
    var serverPort: Int
    var proxyPort: Int?

    init(parsing text: String) throws(SoakError) {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 2 || parts.count == 3, let server = Int(parts[1]) else {
            throw SoakError("--route \(text): expected NAME:SERVER_PORT[:PROXY_PORT]")
        }
        name = parts[0]
        serverPort = server
        if parts.count == 3 {
            guard let proxy = Int(parts[2]) else { throw SoakError("--route \(text): bad proxy port") }
            proxyPort = proxy
        }
    }

    func configuration(credentials: Credentials) -> ClientConfiguration {
        var route = Route.direct
        if let proxyPort {
            route = .proxy(HTTPProxy(endpoint: Endpoint(host: "127.0.0.1", port: proxyPort)), HTTPProxyOptions())
        }
        return ClientConfiguration(
            server: Endpoint(host: "127.0.0.1", port: serverPort),
            route: route,
            credentials: credentials,
            // The soak measures loss and duplication, not identity pinning; its servers are its own.
            identity: .acceptAny,
            connectTimeout: .seconds(10),
            requestTimeout: .seconds(30)
        )
    }
}

/// Request ids for the opt-args field, unique within one run (0 is what the client's own Login sends).
final class RequestIDs: Sendable {
    private let last = Atomic<UInt32>(0)
    func next() -> UInt32 { last.add(1, ordering: .relaxed).newValue }
}

/// One client thread: one ``FrameworkClient`` on one route.
struct Worker: Sendable {
    let route: SoakRoute
    let credentials: Credentials
    let maxEcho: Int
    let retryWindow: Duration
    let pool: [UInt8]
    let tally: Tally
    let ids: RequestIDs

    func run(until end: ContinuousClock.Instant) {
        let client = FrameworkClient(configuration: route.configuration(credentials: credentials))
        defer { client.close() }
        while ContinuousClock.now < end {
            let dice = Int.random(in: 0..<100)
            if dice < 40 {
                idempotent(RequestPacket(function: .ping, optArgs: ids.next()), client: client)
            } else if dice < 85 {
                idempotent(echo(), client: client)
            } else {
                loginAndLogout(client: client)
            }
        }
    }

    /// An Echo of a size spread evenly over the orders of magnitude from 0 to `maxEcho`.
    private func echo() -> RequestPacket {
        let id = ids.next()
        let size = min(maxEcho, Int(pow(Double(maxEcho + 1), Double.random(in: 0...1))) - 1)
        let start = Int.random(in: 0...(pool.count - size))
        var payload = Array(pool[start..<(start + size)])
        withUnsafeBytes(of: id.bigEndian) { stamp in
            for index in 0..<min(stamp.count, payload.count) { payload[index] = stamp[index] }
        }
        return RequestPacket(function: .echo, optArgs: id, payload: payload)
    }

    /// Sends an idempotent request until it is answered right, or the retry window is over (then it is lost).
    private func idempotent(_ request: RequestPacket, client: FrameworkClient) {
        let started = ContinuousClock.now
        let deadline = started + retryWindow
        var attempts = 0
        var lastFailure = ""
        while true {
            attempts += 1
            do {
                let response = try client.send(request)
                if response.rc == .requestOK && response.payload == request.payload {
                    tally.answered(route: route.name, retries: attempts - 1, duration: .now - started)
                    return
                }
                if response.rc != .serverBusy {
                    tally.lost(
                        route: route.name,
                        "\(request.function) #\(request.optArgs) of \(request.payload.count) bytes answered \(response.rc)"
                            + " with \(response.payload.count) bytes"
                            + (response.rc == .requestOK ? ", not the bytes sent" : "")
                    )
                    return
                }
                lastFailure = "Server busy"
            } catch {
                lastFailure = "\(error)"
            }
            guard ContinuousClock.now < deadline else {
                tally.lost(
                    route: route.name,
                    "\(request.function) #\(request.optArgs) of \(request.payload.count) bytes unanswered after "
                        + "\(attempts) attempts: \(lastFailure)"
                )
                return
            }
            // Backoff: a server that was just killed is back within a few seconds.
            Thread.sleep(forTimeInterval: min(2.0, 0.05 * Double(1 << min(attempts, 6))))
        }
    }

    /// Login then Logout, each with its own id, each sent at most once by this driver.
    private func loginAndLogout(client: FrameworkClient) {
        let login: [UInt8]
        do {
            login = try LoginPayload(user: credentials.user, password: credentials.password).serialize()
        } catch {
            tally.lost(route: route.name, "Login payload: \(error)")
            return
        }
        guard once(RequestPacket(function: .login, optArgs: ids.next(), payload: login), client: client) else {
            return
        }
        _ = once(RequestPacket(function: .logout, optArgs: ids.next()), client: client)
        // Logged out, the session may no longer take every request (a server may keep large frames for logged-in
        // sessions): the next request opens a new one, which logs in.
        client.close()
    }

    /// Sends a non-idempotent request once (the client library may still send it again on a reconnect).
    /// - Returns: Whether it was answered Request OK.
    private func once(_ request: RequestPacket, client: FrameworkClient) -> Bool {
        do {
            let response = try client.send(request)
            tally.nonIdempotent(route: route.name, request: request, outcome: "answered \(response.rc)")
            return response.rc == .requestOK
        } catch {
            tally.nonIdempotent(route: route.name, request: request, outcome: "reported \(error)")
            return false
        }
    }
}
