import TTBasics
public import TTProtocol
public import TTTransport

#if canImport(Glibc)
import Glibc
#endif

/// A session with a framework server: connect, handshake, log in, send requests, reconnect.
///
/// The client is synchronous: every call blocks its thread until done or until its deadline
/// (``ClientConfiguration/connectTimeout``, ``ClientConfiguration/requestTimeout``). It belongs to one thread at
/// a time. When the server closed or timed out the session between two requests, the next ``send(_:)`` opens a
/// new connection and sends the request there; a request that may already have reached the server is sent again
/// only when its function is idempotent (``ReconnectPolicy``). Every step is written to the API trace (``APITrace``) when
/// `TMSSAPILOGDIR` is set.
public final class FrameworkClient {
    /// The configuration the client was made with.
    public let configuration: ClientConfiguration

    /// How the current (or last) connection was built: addresses, stage times, proxy status.
    public private(set) var report: ConnectionReport?
    /// The server's identity key, once a handshake has verified it.
    public private(set) var serverIdentity: IdentityPublicKey?
    /// How many connections this client has opened (the first plus reconnects).
    public private(set) var connectionCount = 0
    /// Bytes on the wire of the last request frame and of its answer's frame.
    public private(set) var lastExchangeSize: (sent: Int, received: Int) = (0, 0)

    private var session: Session?
    /// Bounds everything ``send(_:within:)`` does, a reconnect included; `Deadline.never` otherwise.
    private var attemptLimit = Deadline.never
    /// Scratch space for reads, reused by every request.
    private var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
    let trace: APITrace
    let observer: (@Sendable (ClientEvent) -> Void)?
    /// How ``AsyncFrameworkClient`` stops a blocked call from another thread (unused by blocking callers).
    let interrupter = ConnectionInterrupter()

    /// Creates a client; nothing happens on the network until ``connect()`` or ``send(_:)``.
    /// - Parameters:
    ///   - configuration: where and how to connect.
    ///   - trace: the API trace log (defaults to the one `TMSSAPILOGDIR` configures).
    ///   - observer: called on this thread as stages complete and when the client reconnects.
    public init(
        configuration: ClientConfiguration,
        trace: APITrace = .shared,
        observer: (@Sendable (ClientEvent) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.trace = trace
        self.observer = observer
        trace.record("TMSS10API_Init (API Version=tt-connect \(TTConnectVersion.current))")
    }

    deinit {
        interrupter.detachAll()
        session?.transport.close()
        trace.record("TMSS10API_Term")
    }

    /// Whether a session is open (it may still turn out to be closed by the server on the next request).
    public var isConnected: Bool { session != nil }

    /// Opens a connection, runs the handshake, checks the server identity and logs in when credentials are set.
    ///
    /// Connection setup that failed in a way worth repeating (refused, closed before the framework hello, a Login
    /// answered "Server busy") is tried again with jittered backoff, within ``ClientConfiguration/reconnect`` and
    /// ``ClientConfiguration/connectTimeout`` (``RetryStateMachine``).
    /// - Throws: ``FrameworkClientError`` naming the failed stage.
    public func connect() throws(FrameworkClientError) {
        var machine = RetryStateMachine(policy: configuration.reconnect, idempotent: false)
        let limit = retryLimit()
        while true {
            do {
                try openSession(&machine)
                return
            } catch {
                try settle(error, &machine, limit: limit, request: nil)
            }
        }
    }

    /// Sends `request` and returns the server's answer, reconnecting per ``ClientConfiguration/reconnect`` when
    /// the session was closed under it.
    /// - Throws: ``FrameworkClientError`` (stage ``ClientStage/request`` once connected).
    public func send(_ request: RequestPacket) throws(FrameworkClientError) -> ResponsePacket {
        var call = Call(request: request, configuration: configuration, limit: retryLimit())
        return try complete(&call)
    }

    /// One ``send(_:)`` in progress: what its retry loop carries from one step to the next, so that
    /// ``AsyncFrameworkClient`` can start it on the calling task and finish it on its own thread.
    struct Call: Sendable {
        let request: RequestPacket
        var machine: RetryStateMachine
        /// Until when retries may start (``retryLimit()`` when the call began).
        let limit: Deadline
        /// The request is on the wire and its answer is being read.
        var answer: Answer?
        /// An attempt failed and the retry decision (``settle(_:_:limit:request:)``) is still to be made.
        var failure: AttemptFailure?

        init(request: RequestPacket, configuration: ClientConfiguration, limit: Deadline) {
            self.request = request
            machine = RetryStateMachine(policy: configuration.reconnect, idempotent: request.function.isIdempotent)
            self.limit = limit
        }
    }

    /// An answer being read: the bytes so far, the request frame's size and the request's deadline.
    struct Answer: Sendable {
        var bytes: [UInt8]
        let sentSize: Int
        let deadline: Deadline
    }

    /// Runs `call` to its end, blocking: reconnects and retries as its machine decides.
    private func complete(_ call: inout Call) throws(FrameworkClientError) -> ResponsePacket {
        // Bounded: every retry takes one of the machine's reconnects or busy waits.
        while true {
            do {
                if let failure = call.failure {
                    call.failure = nil
                    try settle(failure, &call.machine, limit: call.limit, request: call.request)
                }
                if call.answer == nil {
                    if session == nil { try openSession(&call.machine) }
                    call.machine.requesting()
                    call.answer = try transmit(call.request, &call.machine)
                }
                // Without an early deadline `receive` returns an answer or throws.
                if let response = try receive(&call.answer, for: call.request) { return response }
            } catch {
                try keepFailure(error, in: &call)
            }
        }
    }

    /// Keeps a failed attempt in `call` for the retry decision; rethrows a request that could not be encoded
    /// (nothing was sent, the session stays open); closes the session on anything else.
    private func keepFailure(_ error: any Error, in call: inout Call) throws(FrameworkClientError) {
        switch error {
        case let failure as AttemptFailure:
            call.answer = nil
            call.failure = failure
        case let error as FrameworkClientError:
            throw error
        default:
            close()
            throw FrameworkClientError(stage: .request, category: .internalError, message: "\(error)")
        }
    }

    /// The call ``startSend(_:waitingAtMost:)`` left for ``finishSend()``.
    private var unfinishedCall: Call?

    /// Starts `request` on an open session without waiting for anything but its answer, and that at most
    /// `wait`: `AsyncFrameworkClient` runs it on the calling task, which must not block for long. Everything that
    /// may take long (opening a connection, a retry's backoff, a big request, a slow answer) is left to
    /// ``finishSend()``. The request goes out at most once either way: the machine sees the same steps.
    /// - Returns: the answer, or `nil` when the call is unfinished: ``finishSend()`` continues it, blocking.
    func startSend(
        _ request: RequestPacket,
        waitingAtMost wait: Duration
    ) throws(FrameworkClientError) -> ResponsePacket? {
        var call = Call(request: request, configuration: configuration, limit: retryLimit())
        // A frame this small fits at once into the send buffer of a connection whose every earlier answer was
        // read (the protocol alternates strictly), so sending it does not wait for the peer.
        if session != nil, attemptLimit == .never, request.payload.count <= 4096 {
            do {
                call.machine.requesting()
                call.answer = try transmit(request, &call.machine)
                if let response = try receive(&call.answer, for: request, until: .after(wait)) { return response }
            } catch {
                try keepFailure(error, in: &call)
            }
        }
        unfinishedCall = call
        return nil
    }

    /// Finishes the call ``startSend(_:waitingAtMost:)`` left unfinished, blocking like ``send(_:)``.
    func finishSend() throws(FrameworkClientError) -> ResponsePacket {
        guard var call = unfinishedCall.take() else {
            preconditionFailure("finishSend() without a call startSend left unfinished")
        }
        return try complete(&call)
    }

    /// One failed attempt, with what the retry decision needs to know about it.
    struct AttemptFailure: Error {
        var kind: RetryStateMachine.Failure
        var error: FrameworkClientError
    }

    /// Until when retries of one call may start: its attempt limit, or one connect timeout from now.
    private func retryLimit() -> Deadline {
        min(Deadline.after(configuration.connectTimeout), attemptLimit)
    }

    /// Closes the broken session and asks the machine: throws the final error, or waits the backoff and returns
    /// for the next attempt.
    private func settle(
        _ failure: AttemptFailure,
        _ machine: inout RetryStateMachine,
        limit: Deadline,
        request: RequestPacket?
    ) throws(FrameworkClientError) {
        close()
        try checkInterrupted()
        switch machine.failed(failure.kind, remaining: limit.remaining, jitter: Double.random(in: 0..<1)) {
        case .fail(outcomeUnknown: false):
            throw failure.error
        case .fail(outcomeUnknown: true):
            let function = request.map { "\($0.function)" } ?? "request"
            throw FrameworkClientError(
                stage: .request,
                category: .outcomeUnknown,
                message: "request \(function): the connection to \(peerDescription) was lost after "
                    + "the request was sent (\(failure.error.message)); the server may have run it. It was not sent "
                    + "again: check its effect before repeating it"
            )
        case .retry(let delay):
            trace.record("TMSS10API_Reconnect: \(failure.error.message)")
            observer?(.reconnecting(reason: failure.error.message))
            try pause(delay)
        }
    }

    /// Waits `delay` before a retry, in short slices so a cancellation ends the wait within 10 ms.
    private func pause(_ delay: Duration) throws(FrameworkClientError) {
        let end = ContinuousClock.now + delay
        // Bounded by `end`: each slice is at most 10 ms.
        while ContinuousClock.now < end {
            try checkInterrupted()
            let slice = min(.milliseconds(10), end - ContinuousClock.now)
            if slice > .zero { usleep(UInt32(max(1, slice.wholeMilliseconds)) * 1000) }
        }
        try checkInterrupted()
    }

    /// One attempt at a session: connection, handshake, identity check and Login.
    private func openSession(_ machine: inout RetryStateMachine) throws(AttemptFailure) {
        close()
        machine.connecting()
        do {
            try checkInterrupted()
        } catch {
            throw AttemptFailure(kind: .final, error: error)
        }
        let deadline = min(Deadline.after(configuration.connectTimeout), attemptLimit)
        let server = configuration.server
        trace.record("TMSS10API_Connect: Server(\(server.host)) Port(\(server.port))")
        let transport: any Transport
        do {
            transport = try openTransport(deadline: deadline)
        } catch {
            trace.record("TMSS10API_Connect: Connection failed (\(error.error.message))")
            throw error
        }
        guard interrupter.attach(transport.pollDescriptor) else {
            transport.close()
            throw AttemptFailure(
                kind: .final,
                error: FrameworkClientError(stage: .request, category: .internalError, message: "cancelled")
            )
        }
        connectionCount += 1
        report = transport.report
        // Through a tunnel the address connected to is the proxy's: the server and the proxy are named apart.
        if let proxy = transport.report.proxy {
            let proxyAddress = transport.report.connectedAddress ?? proxy.description
            trace.record("TMSS10API_Connect: Connection OK IP(\(server)) Proxy(\(proxyAddress))")
        } else {
            trace.record("TMSS10API_Connect: Connection OK IP(\(transport.report.connectedAddress ?? server.host))")
        }

        do throws(AttemptFailure) {
            let started = ContinuousClock.now
            let (codec, identity) = try handshake(on: transport, deadline: deadline)
            // A reconnect reaches the server the first connection did, whatever the known-servers file could
            // record (trust on first use with an unwritable file remembers nothing): a different key now is a man
            // in the middle that cut the session, and it would get the Login.
            if let accepted = serverIdentity, accepted != identity, !configuration.identity.acceptsAnyKey {
                throw AttemptFailure(
                    kind: .final,
                    error: identityMismatch(
                        identity,
                        expected: "\(accepted.fingerprint) (the key this client accepted before reconnecting)"
                    )
                )
            }
            serverIdentity = identity
            session = Session(transport: transport, codec: codec)
            let verdict: String
            do {
                verdict = try checkIdentity(identity)
            } catch {
                throw AttemptFailure(kind: .final, error: error)
            }
            trace.record("TMSS10API_Connect: Server identity \(identity.fingerprint) (\(verdict))")
            observer?(
                .stageCompleted(.handshake, duration: .now - started, detail: "\(identity.fingerprint) \(verdict)")
            )
        } catch {
            interrupter.detachAll()
            transport.close()
            session = nil
            trace.record("TMSS10API_Connect: Handshake failed (\(error.error.message))")
            throw error
        }
        if let credentials = configuration.credentials {
            try login(credentials, &machine)
        }
    }

    /// Sends `request` like ``send(_:)``, with the whole attempt bounded by `limit`: a reconnect it needs
    /// (connect, proxy tunnel, handshake, login) and the answer together, each also within its own timeout.
    /// `tt-ping -W` uses it, so a reply that needed a slow reconnect is not counted late.
    /// - Throws: ``FrameworkClientError`` (category ``FrameworkClientError/Category/timedOut`` when `limit` passed).
    public func send(_ request: RequestPacket, within limit: Duration) throws(FrameworkClientError) -> ResponsePacket {
        attemptLimit = .after(limit)
        defer { attemptLimit = .never }
        return try send(request)
    }

    /// Sends a Ping (no login needed) and returns the answer.
    @discardableResult
    public func ping() throws(FrameworkClientError) -> ResponsePacket {
        try send(RequestPacket(function: .ping))
    }

    /// Sends a Ping with the whole attempt, a reconnect included, bounded by `limit` (``send(_:within:)``).
    @discardableResult
    public func ping(within limit: Duration) throws(FrameworkClientError) -> ResponsePacket {
        try send(RequestPacket(function: .ping), within: limit)
    }

    /// Closes the connection (no Logout is sent; the server ends the session with it).
    public func close() {
        interrupter.detachAll()
        session?.transport.close()
        session = nil
        // A call left unfinished ends here (AsyncFrameworkClient closes a cancelled one): its request, which may
        // be large, is not kept until the next call.
        unfinishedCall = nil
    }

    /// Ends an operation ``AsyncFrameworkClient`` cancelled: no reconnect, no retry (its caller gets
    /// `CancellationError`, not this error).
    private func checkInterrupted() throws(FrameworkClientError) {
        guard interrupter.isInterrupted else { return }
        throw FrameworkClientError(stage: .request, category: .internalError, message: "cancelled")
    }

    // MARK: - Stages

    private func openTransport(deadline: Deadline) throws(AttemptFailure) -> any Transport {
        do {
            switch configuration.route {
            case .direct:
                let transport = try DirectTransport.open(
                    configuration.server,
                    deadline: deadline,
                    tls: configuration.tls.mode.wraps(throughProxy: false) ? configuration.tls : nil,
                    interrupter: interrupter
                )
                defer { reportTLS(transport.report) }
                observer?(
                    .stageCompleted(
                        .serverConnect,
                        duration: transport.report.tcpConnectTime,
                        detail: "connected to \(transport.report.connectedAddress ?? "\(configuration.server)")"
                    )
                )
                return transport
            case .proxy(let proxy, let options):
                trace.record("TMSS10API_Connect: Proxy(\(proxy.url)) Auth(\(proxy.authScheme))")
                let transport = try HTTPProxyTransport.open(
                    target: configuration.server,
                    proxy: proxy,
                    options: options,
                    deadline: deadline,
                    tls: configuration.tls.mode.wraps(throughProxy: true) ? configuration.tls : nil,
                    interrupter: interrupter
                )
                defer { reportTLS(transport.report) }
                reportProxyStages(transport.report, proxy: proxy, note: nil)
                return transport
            case .autoConfigured(let route, let options):
                trace.record("TMSS10API_Connect: PAC(\(route.pac.source)) Answer(\(route.pac.answer))")
                let (transport, note) = try route.open(
                    target: configuration.server,
                    options: options,
                    deadline: deadline,
                    tls: configuration.tls,
                    interrupter: interrupter
                )
                defer { reportTLS(transport.report) }
                trace.record("TMSS10API_Connect: \(note)")
                if let proxy = transport.report.proxy {
                    reportProxyStages(transport.report, proxy: configuredProxy(at: proxy), note: note)
                } else {
                    observer?(
                        .stageCompleted(
                            .serverConnect,
                            duration: transport.report.tcpConnectTime,
                            detail: "connected to \(transport.report.connectedAddress ?? "\(configuration.server)") "
                                + "(\(note))"
                        )
                    )
                }
                return transport
            }
        } catch let error as TransportError {
            if let connection = error.connection {
                // The TCP connection or the tunnel stood and the TLS handshake failed: those stages passed.
                if let through = connection.proxy {
                    reportProxyStages(connection, proxy: configuredProxy(at: through), note: nil)
                } else {
                    observer?(
                        .stageCompleted(
                            .serverConnect,
                            duration: connection.tcpConnectTime,
                            detail: "connected to \(connection.connectedAddress ?? "\(configuration.server)")"
                        )
                    )
                }
            } else if case .proxy(let proxy, _) = configuration.route, let connectTime = error.proxyConnectTime {
                // The proxy was reached; it is the CONNECT that failed. Say so, stage by stage.
                observer?(
                    .stageCompleted(.proxyConnect, duration: connectTime, detail: "connected to \(proxy.endpoint)")
                )
            }
            throw AttemptFailure(
                kind: error.isTransientConnectFailure ? .setupTransient : .final,
                error: FrameworkClientError(error)
            )
        } catch {
            throw AttemptFailure(
                kind: .final,
                error: FrameworkClientError(stage: .serverConnect, category: .internalError, message: "\(error)")
            )
        }
    }

    /// The proxy of the route (or of its PAC answer) at `endpoint`, as configured (its scheme, for the stage line).
    private func configuredProxy(at endpoint: Endpoint) -> HTTPProxy {
        switch configuration.route {
        case .proxy(let proxy, _) where proxy.endpoint == endpoint:
            return proxy
        case .autoConfigured(let route, _):
            for case .proxy(let candidate) in route.pac.entries where candidate.endpoint == endpoint {
                return candidate
            }
            return HTTPProxy(endpoint: endpoint)
        default:
            return HTTPProxy(endpoint: endpoint)
        }
    }

    /// Reports the proxy connect and CONNECT stages of an opened tunnel: the address, the status, and the
    /// authentication schemes tried (``ConnectionReport/authAttempts``) when more than one was, and the warning
    /// about Basic in the clear (``ConnectionReport/authWarning``).
    private func reportProxyStages(_ report: ConnectionReport, proxy: HTTPProxy, note: String?) {
        let status = report.proxyStatus.map(String.init) ?? "?"
        let who = report.authenticatedAs.map { " as \($0)" } ?? ""
        let scheme =
            report.authAttempts.count > 1
            ? " (auth \(report.authAttempts.joined(separator: " · "))\(who))"
            : report.authSchemeUsed.map { " (auth \($0)\(who))" } ?? ""
        // Basic in the clear after a stronger scheme failed is never silent (ConnectionReport.authWarning).
        let warning = report.authWarning.map { "; warning: \($0)" } ?? ""
        trace.record("TMSS10API_Connect: Proxy CONNECT status(\(status))\(scheme)\(warning)")
        observer?(
            .stageCompleted(
                .proxyConnect,
                duration: report.tcpConnectTime,
                detail: "connected to \(report.connectedAddress ?? proxy.endpoint.description)"
                    + (proxy.scheme == .https ? " (TLS)" : "") + (note.map { " (\($0))" } ?? "")
            )
        )
        observer?(
            .stageCompleted(
                .proxyTunnel,
                duration: report.tunnelTime ?? .zero,
                detail: "CONNECT \(configuration.server) → HTTP \(status)\(scheme)\(warning)"
            )
        )
    }

    private func handshake(
        on transport: any Transport,
        deadline: Deadline
    ) throws(AttemptFailure) -> (PacketCodec, IdentityPublicKey) {

        // Ends in CR LF, so a proxy that parses HTTP inside TLS decides at once (ClientHandshake.endingInLineBreak).
        let handshake = ClientHandshake.endingInLineBreak()
        var received: [UInt8] = []
        do {
            try transport.sendAll(handshake.hello, deadline: deadline)
            // Read the fixed prefix first, so a web page or banner is recognised at once, not after a timeout.
            received = try transport.receiveExactly(Handshake.magic.count + 2, deadline: deadline)
            try Handshake.validatePrefix(received)
            received += try transport.receiveExactly(Handshake.serverHelloSize - received.count, deadline: deadline)
            let (keys, identity) = try handshake.finish(serverHello: received)
            return (try PacketCodec(keys: keys, limits: configuration.limits), identity)
        } catch let error as ProtocolError {
            throw AttemptFailure(
                kind: .final,
                error: inspectedTunnel(transport, received: received, closed: false, deadline: deadline)
                    ?? notFrameworkServer(error, firstBytes: received)
            )
        } catch let error as TransportError {
            if error.category == .connectionClosed,
                let inspected = inspectedTunnel(transport, received: received, closed: true, deadline: deadline)
            {
                throw AttemptFailure(kind: .final, error: inspected)
            }
            switch error.category {
            case .timedOut where configuration.connectTimeout < Self.tooShortToAnswer:
                // The caller's deadline, not the peer, is at fault: no server answers within it.
                throw AttemptFailure(
                    kind: .final,
                    error: FrameworkClientError(
                        stage: .handshake,
                        category: .timedOut,
                        message: "handshake: the connect timeout (\(configuration.connectTimeout.readable)) ran out "
                            + "before \(peerDescription)'s framework hello could arrive: far too short for any "
                            + "server; give a timeout in seconds (--timeout 10)"
                    )
                )
            case .timedOut:
                throw AttemptFailure(
                    kind: .final,
                    error: FrameworkClientError(
                        stage: .handshake,
                        category: .timedOut,
                        message: "handshake: \(peerDescription) sent no framework hello within the connect timeout "
                            + "(\(configuration.connectTimeout.readable)); "
                            + "is a framework server listening there?"
                    )
                )
            case .connectionClosed:
                // Closed before the hello: what a balancer does while the backend it picked goes away. Nothing of
                // a session exists yet, so connecting again is safe.
                throw AttemptFailure(
                    kind: .setupTransient,
                    error: FrameworkClientError(
                        stage: .handshake,
                        category: .notFrameworkServer,
                        message: "handshake: \(peerDescription) closed the connection"
                            + (received.isEmpty ? "" : " after \(PrintableBytes.quoted(received, limit: 24))")
                            + ": not a framework server, or it refused the session (connection limit?)"
                            + (transport.report.tls == nil && received.isEmpty
                                ? "; a server that speaks only TLS closes a raw connection this way too: try --tls always"
                                : "")
                    )
                )
            default:
                throw AttemptFailure(kind: .final, error: FrameworkClientError(error))
            }
        } catch {
            throw AttemptFailure(
                kind: .final,
                error: FrameworkClientError(stage: .handshake, category: .internalError, message: "\(error)")
            )
        }
    }

    /// A connect timeout below this cannot be met by any server over any network: the message blames it.
    static let tooShortToAnswer = Duration.milliseconds(50)

    private func notFrameworkServer(_ error: ProtocolError, firstBytes: [UInt8]) -> FrameworkClientError {
        // The protocol error may already quote what arrived ("received …"): say it once.
        let quoted = PrintableBytes.quoted(firstBytes, limit: 24)
        let answered =
            firstBytes.isEmpty || "\(error)".contains("received ") ? "" : " (it answered \(quoted))"
        let hint =
            if firstBytes.count >= 2, firstBytes[0] == 0x15 || firstBytes[0] == 0x16, firstBytes[1] == 0x03 {
                "the peer answered with TLS: it expects a TLS connection (--tls always)"
            } else if case .proxy = configuration.route {
                "the proxy or the target behind it is not a framework server"
            } else {
                "the peer is not a framework server"
            }
        return FrameworkClientError(
            stage: .handshake,
            category: .notFrameworkServer,
            message: "handshake with \(peerDescription) failed: \(error)\(answered); \(hint)"
        )
    }

    private func checkIdentity(_ identity: IdentityPublicKey) throws(FrameworkClientError) -> String {
        let server = configuration.server.description
        switch configuration.identity {
        case .acceptAny:
            return "not verified"
        case .pinned(let expected):
            guard expected.matches(identity) else { throw identityMismatch(identity, expected: "\(expected)") }
            return "matches the pinned key"
        case .trustOnFirstUse(let known):
            do {
                if let recorded = try known.fingerprint(for: server) {
                    guard recorded == identity.fingerprint.description else {
                        throw identityMismatch(identity, expected: "\(recorded) (recorded in \(known.path))")
                    }
                    return "known"
                }
                let verdict = try Self.remember(identity, of: server, in: known)
                // Another client may have recorded a key for this server since the lookup (the doctor checks every
                // route at once; two tools start together): the first line recorded is the one that counts, so a
                // different key shown here is refused as it would be on the next connection.
                if let recorded = try known.fingerprint(for: server), recorded != identity.fingerprint.description {
                    throw identityMismatch(identity, expected: "\(recorded) (recorded in \(known.path) meanwhile)")
                }
                return verdict
            } catch let error as KnownServersError {
                throw FrameworkClientError(stage: .handshake, category: .usage, message: error.description)
            } catch let error as FrameworkClientError {
                throw error
            } catch {
                throw FrameworkClientError(stage: .handshake, category: .internalError, message: "\(error)")
            }
        }
    }

    /// Records a first-seen key. As ssh does with an unwritable known_hosts, an unwritable file only warns: the
    /// key is checked again next time.
    private static func remember(
        _ identity: IdentityPublicKey,
        of server: String,
        in known: KnownServers
    ) throws(KnownServersError) -> String {
        do {
            try known.remember(server, fingerprint: identity.fingerprint.description)
        } catch {
            guard error == .unwritable else { throw error }
            let warning = "cannot remember the key in \(error.path) (\(error.reason))"
            return "new; warning: \(warning), it will be asked about again"
        }
        return "new, remembered in \(known.path)"
    }

    private func identityMismatch(_ identity: IdentityPublicKey, expected: String) -> FrameworkClientError {
        FrameworkClientError(
            stage: .handshake,
            category: .identityMismatch,
            message: "server identity mismatch for \(configuration.server): it presented \(identity.fingerprint), "
                + "expected \(expected). Someone may be intercepting the connection, or the server's key changed; "
                + "if the change is expected, update the pinned key or the known-servers entry"
        )
    }

    private func login(_ credentials: Credentials, _ machine: inout RetryStateMachine) throws(AttemptFailure) {
        trace.record("TMSS10API_Login: User(\(credentials.user))")
        let started = ContinuousClock.now
        var payload: [UInt8]
        do {
            payload = try LoginPayload(user: credentials.user, password: credentials.password).serialize()
        } catch {
            close()
            throw AttemptFailure(
                kind: .final,
                error: FrameworkClientError(stage: .login, category: .usage, message: "login: \(error)")
            )
        }
        // The request (and its reference to the payload) ends with the call, so the wipe below overwrites the
        // only copy of the serialized password instead of a copy-on-write duplicate.
        defer { payload.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        machine.loggingIn()
        let response: ResponsePacket
        do {
            response = try exchange(RequestPacket(function: .login, payload: payload), &machine)
        } catch let failure as AttemptFailure {
            // The Login request is the login stage, whatever went wrong with it (a timeout above all).
            var error = failure.error
            error.stage = .login
            throw AttemptFailure(kind: failure.kind, error: error)
        } catch var error as FrameworkClientError {
            close()
            error.stage = .login
            throw AttemptFailure(kind: .final, error: error)
        } catch {
            close()
            throw AttemptFailure(
                kind: .final,
                error: FrameworkClientError(stage: .login, category: .internalError, message: "\(error)")
            )
        }
        if response.rc == .serverBusy {
            close()
            throw AttemptFailure(
                kind: .loginBusy,
                error: FrameworkClientError(
                    stage: .login,
                    category: .serverBusy,
                    message: "\(configuration.server) is too busy to check the login right now (\(response.rc));"
                        + " the credentials were not checked, try again later"
                )
            )
        }
        guard response.rc == .requestOK else {
            close()
            throw AttemptFailure(
                kind: .final,
                error: FrameworkClientError(
                    stage: .login,
                    category: .loginRejected,
                    message: "login as \(credentials.user) rejected by \(configuration.server): \(response.rc)"
                        + "; check the user name and password"
                )
            )
        }
        observer?(.stageCompleted(.login, duration: .now - started, detail: "logged in as \(credentials.user)"))
    }

    // MARK: - One request

    /// Sends one request on the open session and reads its answer, blocking (the Login's exchange).
    private func exchange(_ request: RequestPacket, _ machine: inout RetryStateMachine) throws -> ResponsePacket {
        var answer: Answer? = try transmit(request, &machine)
        // Bounded: without an early deadline the first turn answers or throws.
        while true {
            if let response = try receive(&answer, for: request) { return response }
        }
    }

    /// A request without an open session: the connection is lost, for the retry machine to judge.
    private var notConnected: AttemptFailure {
        AttemptFailure(
            kind: .connectionLost,
            error: FrameworkClientError(
                stage: .request,
                category: .serverUnreachable,
                message: "not connected to \(configuration.server)"
            )
        )
    }

    /// Sends one request on the open session. Every byte written is reported to `machine`; a failure of the
    /// connection is an ``AttemptFailure`` for it to judge (the session is closed then), a request that cannot be
    /// encoded a ``FrameworkClientError`` (the session stays open).
    /// - Returns: the answer to read, with what already arrived.
    private func transmit(_ request: RequestPacket, _ machine: inout RetryStateMachine) throws -> Answer {
        guard let session else {
            throw notConnected
        }
        let frame: [UInt8]
        do {
            frame = try session.codec.encode(.request(request))
        } catch {
            // Nothing was sent and no counter moved: the session stays usable.
            throw FrameworkClientError(
                stage: .request,
                category: .usage,
                message: "request \(request.function) cannot be sent: \(error) "
                    + "(payload \(Self.tracedLength(request)) bytes, frame limit \(configuration.limits.maxFrameSize))"
            )
        }
        let deadline = min(Deadline.after(configuration.requestTimeout), attemptLimit)
        trace.record(
            "TMSS10API_Send: Function(\(request.function)) Length(\(Self.tracedLength(request))) "
                + "Flags(\(request.flags)) OptArgs(\(request.optArgs))"
        )
        var answer = session.pending
        self.session?.pending = []
        // A server that timed the idle session out has closed it already: seeing that now proves the request
        // never left, so it may go out again on a new connection whatever its function.
        switch session.transport.probeIdleConnection() {
        case .open:
            break
        case .unsolicited(let bytes):
            answer += bytes
        case .closed(let error):
            close()
            trace.record("TMSS10API_Send: not sent (\(error.message))")
            throw AttemptFailure(
                kind: .connectionLost,
                error: FrameworkClientError(
                    stage: .request,
                    category: .serverUnreachable,
                    message: "\(peerDescription) closed the session (the server may have timed it out): \(error)"
                )
            )
        }
        do {
            try session.transport.sendAll(frame, deadline: deadline) { machine.wrote() }
        } catch let error as TransportError {
            close()
            trace.record("TMSS10API_Send: not sent (\(error.message))")
            if error.category == .timedOut {
                throw AttemptFailure(
                    kind: .final,
                    error: FrameworkClientError(
                        stage: .request,
                        category: .timedOut,
                        message: "request \(request.function): \(peerDescription) did not take the request within "
                            + (attemptLimit == .never
                                ? "the request timeout of \(configuration.requestTimeout.readable)"
                                : "the time allowed")
                    )
                )
            }
            throw AttemptFailure(
                kind: .connectionLost,
                error: FrameworkClientError(
                    stage: .request,
                    category: .serverUnreachable,
                    message: "\(peerDescription) closed the session while the request was being sent: \(error)"
                )
            )
        }
        return Answer(bytes: answer, sentSize: frame.count, deadline: deadline)
    }

    /// Reads the answer to `request`, which is on the wire (`pending`). One read usually brings the whole answer,
    /// header and body: 4 system calls per request with the liveness poll in ``transmit(_:_:)``.
    /// - Parameter early: when before the request's own deadline, gives up waiting then and returns `nil`,
    ///   keeping what arrived in `pending` for the next call to continue with.
    /// - Throws: ``AttemptFailure`` when the connection failed (it is closed then).
    private func receive(
        _ pending: inout Answer?,
        for request: RequestPacket,
        until early: Deadline = .never
    ) throws -> ResponsePacket? {
        guard let session, var answer = pending else {
            throw notConnected
        }
        do {
            // Bounded: each turn reads at least one byte of a frame no longer than the codec's limit, or ends.
            while true {
                if answer.bytes.count >= FrameHeader.size {
                    let header = try FrameHeader(
                        parsing: answer.bytes[0..<FrameHeader.size],
                        limits: session.codec.limits
                    )
                    let total = FrameHeader.size + header.length
                    if answer.bytes.count >= total {
                        pending = nil
                        return try decode(
                            answer.bytes,
                            header: header,
                            total: total,
                            sentSize: answer.sentSize,
                            session.codec
                        )
                    }
                    answer.bytes.reserveCapacity(total)
                }
                let wait = min(early, answer.deadline)
                let more: [UInt8]
                do {
                    more = try readChunk(session.transport, deadline: wait)
                } catch let error as TransportError where error.category == .timedOut && wait < answer.deadline {
                    pending = answer
                    return nil
                }
                guard !more.isEmpty else {
                    guard answer.bytes.isEmpty else { throw truncatedAnswer(received: answer.bytes.count) }
                    throw TransportError(
                        stage: .io,
                        category: .connectionClosed,
                        message: "\(peerDescription) closed the connection before answering"
                    )
                }
                if answer.bytes.isEmpty { answer.bytes = more } else { answer.bytes += more }
            }
        } catch let error as TransportError {
            close()
            trace.record("TMSS10API_Send: failed (\(error.message))")
            switch error.category {
            case .timedOut:
                throw AttemptFailure(
                    kind: .final,
                    error: FrameworkClientError(
                        stage: .request,
                        category: .timedOut,
                        message: "request \(request.function): no answer from \(peerDescription) within "
                            + (attemptLimit == .never
                                ? "the request timeout of \(configuration.requestTimeout.readable)"
                                : "the time allowed")
                    )
                )
            case .connectionClosed:
                // Whether it may go out again (the request left: only when idempotent) is the machine's call.
                throw AttemptFailure(
                    kind: .connectionLost,
                    error: FrameworkClientError(
                        stage: .request,
                        category: .serverUnreachable,
                        message: "\(peerDescription) closed the session before answering: \(error)"
                    )
                )
            default:
                throw AttemptFailure(kind: .final, error: FrameworkClientError(error))
            }
        } catch let error as ProtocolError {
            close()
            trace.record("TMSS10API_Send: failed (\(error))")
            throw AttemptFailure(
                kind: .final,
                error: FrameworkClientError(
                    stage: .request,
                    category: .notFrameworkServer,
                    message: "the answer from \(peerDescription) was rejected: \(error); the connection was closed"
                )
            )
        }
    }

    /// Decodes the complete answer frame at the start of `bytes`; keeps what follows it for the next request.
    private func decode(
        _ bytes: [UInt8],
        header: FrameHeader,
        total: Int,
        sentSize: Int,
        _ codec: PacketCodec
    ) throws -> ResponsePacket {
        if bytes.count > total { self.session?.pending = Array(bytes[total...]) }
        let packet = try bytes.withUnsafeBytes { raw in
            try codec.decode(header: header, body: UnsafeRawBufferPointer(rebasing: raw[FrameHeader.size..<total]))
        }
        guard case .response(let response) = packet else {
            throw ProtocolError.unknownPacketType
        }
        lastExchangeSize = (sentSize, total)
        trace.record(
            "TMSS10API_Send: RC(\(response.rc)) Feedback(\(response.feedback)) "
                + "MiliSecs(\(response.elapsedMilliseconds)) Avail(\(response.avail)) "
                + "Count(\(response.count)) Length(\(response.payload.count))"
        )
        return response
    }

    /// Reads what the transport has (up to 64 KiB), waiting for at least one byte; empty at end of stream.
    private func readChunk(_ transport: any Transport, deadline: Deadline) throws -> [UInt8] {
        try readBuffer.withUnsafeMutableBytes { buffer in
            let count = try transport.receiveSome(into: buffer, deadline: deadline)
            return Array(buffer[0..<count])
        }
    }

    private func truncatedAnswer(received: Int) -> TransportError {
        TransportError(
            stage: .io,
            category: .connectionClosed,
            message: "\(peerDescription) closed the connection after \(received) bytes of an answer"
        )
    }

    /// The payload length as the trace and messages may show it: a Login's payload holds the password, so its
    /// length would give the password's length away (`Length(14)` vs `Length(11)`); it shows as `-`.
    static func tracedLength(_ request: RequestPacket) -> String {
        request.function == .login ? "-" : String(request.payload.count)
    }

    private var peerDescription: String {
        if case .proxy(let proxy, _) = configuration.route {
            return "\(configuration.server) (through proxy \(proxy.endpoint))"
        }
        return "\(configuration.server)"
    }
}

@available(*, unavailable)
extension FrameworkClient: Sendable {}

/// One open connection and its codec.
private struct Session {
    var transport: any Transport
    var codec: PacketCodec
    /// Bytes read beyond the last answer (the protocol alternates strictly, so normally none).
    var pending: [UInt8] = []
}
