import TTBasics
public import TTProtocol
public import TTTransport

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
        interrupter.detach()
        session?.transport.close()
        trace.record("TMSS10API_Term")
    }

    /// Whether a session is open (it may still turn out to be closed by the server on the next request).
    public var isConnected: Bool { session != nil }

    /// Opens a connection, runs the handshake, checks the server identity and logs in when credentials are set.
    /// - Throws: ``FrameworkClientError`` naming the failed stage.
    public func connect() throws(FrameworkClientError) {
        close()
        try checkInterrupted()
        let deadline = min(Deadline.after(configuration.connectTimeout), attemptLimit)
        let server = configuration.server
        trace.record("TMSS10API_Connect: Server(\(server.host)) Port(\(server.port))")
        let transport: any Transport
        do {
            transport = try openTransport(deadline: deadline)
        } catch {
            trace.record("TMSS10API_Connect: Connection failed (\(error.message))")
            throw error
        }
        guard interrupter.attach(transport.pollDescriptor) else {
            transport.close()
            try checkInterrupted()
            return
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

        do {
            let started = ContinuousClock.now
            let (codec, identity) = try handshake(on: transport, deadline: deadline)
            serverIdentity = identity
            session = Session(transport: transport, codec: codec)
            let verdict = try checkIdentity(identity)
            trace.record("TMSS10API_Connect: Server identity \(identity.fingerprint) (\(verdict))")
            observer?(
                .stageCompleted(.handshake, duration: .now - started, detail: "\(identity.fingerprint) \(verdict)")
            )
        } catch {
            interrupter.detach()
            transport.close()
            session = nil
            trace.record("TMSS10API_Connect: Handshake failed (\(error.message))")
            throw error
        }
        if let credentials = configuration.credentials {
            try login(credentials)
        }
    }

    /// Sends `request` and returns the server's answer, reconnecting per ``ClientConfiguration/reconnect`` when
    /// the session was closed under it.
    /// - Throws: ``FrameworkClientError`` (stage ``ClientStage/request`` once connected).
    public func send(_ request: RequestPacket) throws(FrameworkClientError) -> ResponsePacket {
        var reconnectsLeft = configuration.reconnect.maxReconnects
        if session == nil { try connectBeforeSending(reconnectsLeft: &reconnectsLeft) }
        while true {
            do {
                return try exchange(request)
            } catch let error as SessionBroken {
                close()
                try checkInterrupted()
                guard reconnectsLeft > 0 else { throw error.clientError }
                reconnectsLeft -= 1
                trace.record("TMSS10API_Reconnect: \(error.clientError.message)")
                observer?(.reconnecting(reason: error.clientError.message))
                try connectBeforeSending(reconnectsLeft: &reconnectsLeft)
            } catch let error as FrameworkClientError {
                // exchange(_:) closed the session when it broke; a request that could not be encoded leaves it open.
                throw error
            } catch {
                close()
                throw FrameworkClientError(stage: .request, category: .internalError, message: "\(error)")
            }
        }
    }

    /// Connects for a request that has not been written yet. A connection refused, or closed before the handshake
    /// completed (what a balancer does while the backend it picked goes away), is tried again while the policy
    /// has reconnects left: nothing of the request left this process, so trying again cannot run it twice.
    private func connectBeforeSending(reconnectsLeft: inout Int) throws(FrameworkClientError) {
        while true {
            do {
                try connect()
                return
            } catch {
                let transient = error.category == .serverUnreachable || error.category == .notFrameworkServer
                guard transient, reconnectsLeft > 0 else { throw error }
                try checkInterrupted()
                reconnectsLeft -= 1
                trace.record("TMSS10API_Reconnect: \(error.message)")
                observer?(.reconnecting(reason: error.message))
            }
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
        interrupter.detach()
        session?.transport.close()
        session = nil
    }

    /// Ends an operation ``AsyncFrameworkClient`` cancelled: no reconnect, no retry (its caller gets
    /// `CancellationError`, not this error).
    private func checkInterrupted() throws(FrameworkClientError) {
        guard interrupter.isInterrupted else { return }
        throw FrameworkClientError(stage: .request, category: .internalError, message: "cancelled")
    }

    // MARK: - Stages

    private func openTransport(deadline: Deadline) throws(FrameworkClientError) -> any Transport {
        do {
            switch configuration.route {
            case .direct:
                let transport = try DirectTransport.open(
                    configuration.server,
                    deadline: deadline,
                    tls: configuration.tls.mode.wraps(throughProxy: false) ? configuration.tls : nil
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
                    tls: configuration.tls.mode.wraps(throughProxy: true) ? configuration.tls : nil
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
                    tls: configuration.tls
                )
                defer { reportTLS(transport.report) }
                trace.record("TMSS10API_Connect: \(note)")
                if let proxy = transport.report.proxy {
                    let used = route.pac.entries.lazy.compactMap { entry -> HTTPProxy? in
                        if case .proxy(let candidate) = entry, candidate.endpoint == proxy { return candidate }
                        return nil
                    }.first
                    reportProxyStages(
                        transport.report,
                        proxy: used ?? HTTPProxy(endpoint: proxy),
                        note: note
                    )
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
            if case .proxy(let proxy, _) = configuration.route, let connectTime = error.proxyConnectTime {
                // The proxy was reached; it is the CONNECT that failed. Say so, stage by stage.
                observer?(
                    .stageCompleted(.proxyConnect, duration: connectTime, detail: "connected to \(proxy.endpoint)")
                )
            }
            throw FrameworkClientError(error)
        } catch {
            throw FrameworkClientError(stage: .serverConnect, category: .internalError, message: "\(error)")
        }
    }

    /// Reports the proxy connect and CONNECT stages of an opened tunnel: the address, the status, and the
    /// authentication schemes tried (``ConnectionReport/authAttempts``) when more than one was.
    private func reportProxyStages(_ report: ConnectionReport, proxy: HTTPProxy, note: String?) {
        let status = report.proxyStatus.map(String.init) ?? "?"
        let who = report.authenticatedAs.map { " as \($0)" } ?? ""
        let scheme =
            report.authAttempts.count > 1
            ? " (auth \(report.authAttempts.joined(separator: " · "))\(who))"
            : report.authSchemeUsed.map { " (auth \($0)\(who))" } ?? ""
        trace.record("TMSS10API_Connect: Proxy CONNECT status(\(status))\(scheme)")
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
                detail: "CONNECT \(configuration.server) → HTTP \(status)\(scheme)"
            )
        )
    }

    private func handshake(
        on transport: any Transport,
        deadline: Deadline
    ) throws(FrameworkClientError) -> (PacketCodec, IdentityPublicKey) {
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
            throw inspectedTunnel(transport, received: received, closed: false, deadline: deadline)
                ?? notFrameworkServer(error, firstBytes: received)
        } catch let error as TransportError {
            if error.category == .connectionClosed,
                let inspected = inspectedTunnel(transport, received: received, closed: true, deadline: deadline)
            {
                throw inspected
            }
            switch error.category {
            case .timedOut where configuration.connectTimeout < Self.tooShortToAnswer:
                // The caller's deadline, not the peer, is at fault: no server answers within it.
                throw FrameworkClientError(
                    stage: .handshake,
                    category: .timedOut,
                    message: "handshake: the connect timeout (\(configuration.connectTimeout.readable)) ran out "
                        + "before \(peerDescription)'s framework hello could arrive: far too short for any server; "
                        + "give a timeout in seconds (--timeout 10)"
                )
            case .timedOut:
                throw FrameworkClientError(
                    stage: .handshake,
                    category: .timedOut,
                    message: "handshake: \(peerDescription) sent no framework hello within the connect timeout "
                        + "(\(configuration.connectTimeout.readable)); "
                        + "is a framework server listening there?"
                )
            case .connectionClosed:
                throw FrameworkClientError(
                    stage: .handshake,
                    category: .notFrameworkServer,
                    message: "handshake: \(peerDescription) closed the connection"
                        + (received.isEmpty ? "" : " after \(PrintableBytes.quoted(received, limit: 24))")
                        + ": not a framework server, or it refused the session (connection limit?)"
                        + (transport.report.tls == nil && received.isEmpty
                            ? "; a server that speaks only TLS closes a raw connection this way too: try --tls always"
                            : "")
                )
            default:
                throw FrameworkClientError(error)
            }
        } catch {
            throw FrameworkClientError(stage: .handshake, category: .internalError, message: "\(error)")
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
                return try Self.remember(identity, of: server, in: known)
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

    private func login(_ credentials: Credentials) throws(FrameworkClientError) {
        trace.record("TMSS10API_Login: User(\(credentials.user))")
        let started = ContinuousClock.now
        var payload: [UInt8]
        do {
            payload = try LoginPayload(user: credentials.user, password: credentials.password).serialize()
        } catch {
            throw FrameworkClientError(stage: .login, category: .usage, message: "login: \(error)")
        }
        // The request (and its reference to the payload) ends with the call, so the wipe below overwrites the
        // only copy of the serialized password instead of a copy-on-write duplicate.
        defer { payload.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let response: ResponsePacket
        do {
            response = try exchange(RequestPacket(function: .login, payload: payload))
        } catch let error as SessionBroken {
            close()
            throw FrameworkClientError(
                stage: .login,
                category: error.clientError.category,
                message: error.clientError.message
            )
        } catch var error as FrameworkClientError {
            close()
            // The Login request is the login stage, whatever went wrong with it (a timeout above all).
            error.stage = .login
            throw error
        } catch {
            close()
            throw FrameworkClientError(stage: .login, category: .internalError, message: "\(error)")
        }
        if response.rc == .serverBusy {
            close()
            throw FrameworkClientError(
                stage: .login,
                category: .serverBusy,
                message: "\(configuration.server) is too busy to check the login right now (\(response.rc));"
                    + " the credentials were not checked, try again later"
            )
        }
        guard response.rc == .requestOK else {
            close()
            throw FrameworkClientError(
                stage: .login,
                category: .loginRejected,
                message: "login as \(credentials.user) rejected by \(configuration.server): \(response.rc)"
                    + "; check the user name and password"
            )
        }
        observer?(.stageCompleted(.login, duration: .now - started, detail: "logged in as \(credentials.user)"))
    }

    // MARK: - One request

    /// The request can safely go out again on a new connection: it provably never reached the server (the
    /// connection was found closed before writing, or the write failed), or its function is idempotent.
    private struct SessionBroken: Error {
        var clientError: FrameworkClientError
    }

    private func exchange(_ request: RequestPacket) throws -> ResponsePacket {
        guard let session else {
            throw SessionBroken(
                clientError: FrameworkClientError(
                    stage: .request,
                    category: .serverUnreachable,
                    message: "not connected to \(configuration.server)"
                )
            )
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
            throw SessionBroken(
                clientError: FrameworkClientError(
                    stage: .request,
                    category: .serverUnreachable,
                    message: "\(peerDescription) closed the session (the server may have timed it out): \(error)"
                )
            )
        }
        do {
            try session.transport.sendAll(frame, deadline: deadline)
        } catch let error as TransportError {
            close()
            trace.record("TMSS10API_Send: not sent (\(error.message))")
            if error.category == .timedOut {
                throw FrameworkClientError(
                    stage: .request,
                    category: .timedOut,
                    message: "request \(request.function): \(peerDescription) did not take the request within "
                        + (attemptLimit == .never
                            ? "the request timeout of \(configuration.requestTimeout.readable)" : "the time allowed")
                )
            }
            // The write failed: the server cannot have the whole frame, so it cannot have run the request.
            throw SessionBroken(
                clientError: FrameworkClientError(
                    stage: .request,
                    category: .serverUnreachable,
                    message: "\(peerDescription) closed the session before the request was sent: \(error)"
                )
            )
        }
        do {
            // One read usually brings the whole answer, header and body: 4 system calls per request with the
            // liveness poll above.
            if answer.isEmpty {
                answer = try readChunk(session.transport, deadline: deadline)
                guard !answer.isEmpty else {
                    throw TransportError(
                        stage: .io,
                        category: .connectionClosed,
                        message: "\(peerDescription) closed the connection before answering"
                    )
                }
            }
            while answer.count < FrameHeader.size {
                let more = try readChunk(session.transport, deadline: deadline)
                guard !more.isEmpty else { throw truncatedAnswer(received: answer.count) }
                answer += more
            }
            let header = try session.codec.decodeHeader(Array(answer[0..<FrameHeader.size]))
            let total = FrameHeader.size + header.length
            if answer.count < total {
                answer.reserveCapacity(total)
                answer += try session.transport.receiveExactly(total - answer.count, deadline: deadline)
            } else if answer.count > total {
                self.session?.pending = Array(answer[total...])
            }
            let packet = try answer.withUnsafeBytes { bytes in
                try session.codec.decode(
                    header: header,
                    body: UnsafeRawBufferPointer(rebasing: bytes[FrameHeader.size..<total])
                )
            }
            guard case .response(let response) = packet else {
                throw ProtocolError.unknownPacketType
            }
            lastExchangeSize = (frame.count, FrameHeader.size + header.length)
            trace.record(
                "TMSS10API_Send: RC(\(response.rc)) Feedback(\(response.feedback)) "
                    + "MiliSecs(\(response.elapsedMilliseconds)) Avail(\(response.avail)) "
                    + "Count(\(response.count)) Length(\(response.payload.count))"
            )
            return response
        } catch let error as TransportError {
            close()
            trace.record("TMSS10API_Send: failed (\(error.message))")
            switch error.category {
            case .timedOut:
                throw FrameworkClientError(
                    stage: .request,
                    category: .timedOut,
                    message: "request \(request.function): no answer from \(peerDescription) within "
                        + (attemptLimit == .never
                            ? "the request timeout of \(configuration.requestTimeout.readable)" : "the time allowed")
                )
            case .connectionClosed where request.function.isIdempotent:
                throw SessionBroken(
                    clientError: FrameworkClientError(
                        stage: .request,
                        category: .serverUnreachable,
                        message: "\(peerDescription) closed the session before answering: \(error)"
                    )
                )
            case .connectionClosed:
                // The request left and the server may have run it: sending it again could run it twice.
                throw FrameworkClientError(
                    stage: .request,
                    category: .outcomeUnknown,
                    message: "request \(request.function): the connection to \(peerDescription) was lost after "
                        + "the request was sent (\(error.message)); the server may have run it. It was not sent "
                        + "again: check its effect before repeating it"
                )
            default:
                throw FrameworkClientError(error)
            }
        } catch let error as ProtocolError {
            close()
            trace.record("TMSS10API_Send: failed (\(error))")
            throw FrameworkClientError(
                stage: .request,
                category: .notFrameworkServer,
                message: "the answer from \(peerDescription) was rejected: \(error); the connection was closed"
            )
        }
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
