import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import TTBasics
import TTChannelSupport
import TTPasswordChecks
import TTProtocol

/// The end of a session's pipeline: opens frames, runs requests one at a time in order, seals the answers,
/// and is the one place that closes the connection (with a logged reason) when anything goes wrong.
///
/// Requests are strictly serialised: the frame counters and the answer order both depend on it. Large frames
/// are inflated and large answers compressed on the thread pool; while that runs, further frames wait in
/// `pending` and, past a few, reading stops so a pipelining client cannot make the server buffer without bound.
/// Queued frames and unflushed answers are charged to the session's ``SessionAllowance``. Until the session has
/// logged in, its packets are small and handled on the event loop only: unauthenticated peers never use the
/// thread pool except for password checks, which wait their turn in the `PasswordCheckQueue`.
final class SessionHandler: ChannelDuplexHandler {
    typealias InboundIn = SealedFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Frames queued behind a running request before the handler stops reading.
    private static let maxPendingFrames = 4

    private let shared: SessionContext
    private let allowance: SessionAllowance
    private var logger: Logger
    /// The client's address without port (the PROXY header's, when there is one): login checks queue by it.
    private var source: String
    private var opener: FrameOpener?
    private var sealer: FrameSealer?
    private var dispatcher: RequestDispatcher
    private var pending = CircularBuffer<SealedFrame>(initialCapacity: 1)
    private var busy = false
    private var quiescing = false
    private var closing = false
    private var readHeld = false
    /// The function of the request being handled, for the request counter (`nil` until one was parsed).
    private var function: FunctionCode?
    /// Whether a TLS handshake (when the sniffer brought one in) has completed: until then nothing written can
    /// reach the peer, so a close does not wait to flush.
    private var tlsHandshakeCompleted = false

    init(context: SessionContext, peer: String, allowance: SessionAllowance) {
        self.shared = context
        self.allowance = allowance
        self.source = Self.source(of: peer)
        var logger = context.logger
        logger[metadataKey: "peer"] = "\(peer)"
        self.logger = logger
        self.dispatcher = RequestDispatcher(
            maxFailedLogins: context.configuration.maxFailedLoginsPerSession,
            requestLog: context.configuration.requestLog
        )
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        shared.metrics.received(bytes: frame.wireSize)
        guard !closing, !quiescing else {
            allowance.remove(frame.wireSize)
            return
        }
        pending.append(frame)
        drain(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let completed as HandshakeCompletedEvent:
            do {
                opener = try FrameOpener(keys: completed.keys)
                sealer = try FrameSealer(keys: completed.keys, limits: shared.limits)
                shared.metrics.handshake(completed: true)
                logger.debug("handshake completed")
                // From here on this handler's close lingers, after flushing the session's answers.
                if let early = try? context.pipeline.syncOperations.handler(type: EarlyCloseLinger.self) {
                    context.pipeline.syncOperations.removeHandler(early, promise: nil)
                }
            } catch {
                fail(context: context, error)
            }
        case let proxied as ProxiedPeerEvent:
            logger[metadataKey: "via"] = logger[metadataKey: "peer"]
            logger[metadataKey: "peer"] = "\(proxied.peer)"
            source = Self.source(of: proxied.peer)
        case TLSUserEvent.handshakeCompleted:
            tlsHandshakeCompleted = true
            context.fireUserInboundEventTriggered(event)
        case is ChannelShouldQuiesceEvent:
            // The server shuts down (NIO's quiescing event): finish what was received, then close.
            quiescing = true
            closeIfDone(context: context)
        case IdleStateHandler.IdleStateEvent.all:
            // A request running on the thread pool is not idleness.
            guard sealer != nil, !busy, pending.isEmpty, !closing else { return }
            close(context: context, level: .info, reason: "idle for \(Self.seconds(shared.limits.idleTimeout)) s")
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, error)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        shared.metrics.sessionOpened()
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.metrics.sessionClosed()
        if sealer == nil { shared.metrics.handshake(completed: false) }
        closing = true
        dropPending()
        allowance.close()
        logger.debug("session ended")
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if pending.count >= Self.maxPendingFrames || !context.channel.isWritable {
            readHeld = true
            allowance.readPaused = true
        } else {
            context.read()
        }
    }

    // MARK: Request processing

    private func drain(context: ChannelHandlerContext) {
        while !busy, !closing, let frame = pending.popFirst() {
            // From here on the frame is the request being handled: inline (bounded by the inflate limits) or
            // on the thread pool (charged to the offload budget).
            allowance.remove(frame.wireSize)
            process(frame, context: context)
        }
        resumeReadingIfPossible(context: context)
        closeIfDone(context: context)
    }

    private func process(_ frame: SealedFrame, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        function = nil
        guard let opener else {
            fail(context: context, SessionFailure.unexpectedPacket("a frame before the handshake completed"))
            return
        }
        let compressed: [UInt8]
        do {
            compressed = try opener.open(header: frame.header, body: frame.body)
        } catch {
            fail(context: context, error)
            return
        }
        let gzip = shared.gzip
        let limit = shared.limits.maxInflatedSize
        if !allowance.loggedIn {
            // Before login everything is small and stays on the event loop: a bomb fails after a few KiB.
            do {
                let inflated = try gzip.decompress(compressed, limit: shared.preLoginMaxPacketSize)
                handle(try Self.parseRequest(inflated), started: started, context: context)
            } catch {
                fail(context: context, error)
            }
            return
        }
        if compressed.count < shared.configuration.offloadThreshold {
            // A small frame can still inflate 1032:1, so the event loop inflates only up to a small cap; a frame
            // that goes past it is inflated again on the thread pool against the real limit.
            let inlineLimit = min(limit, shared.inlineInflateLimit)
            let inflated: [UInt8]
            do {
                inflated = try gzip.decompress(compressed, limit: inlineLimit)
            } catch let error where error == .inflatedSizeExceeded && inlineLimit < limit {
                offloadInflate(compressed, started: started, context: context)
                return
            } catch {
                fail(context: context, error)
                return
            }
            do {
                handle(try Self.parseRequest(inflated), started: started, context: context)
            } catch {
                fail(context: context, error)
            }
            return
        }
        offloadInflate(compressed, started: started, context: context)
    }

    private func offloadInflate(_ compressed: [UInt8], started: NIODeadline, context: ChannelHandlerContext) {
        let gzip = shared.gzip
        let limit = shared.limits.maxInflatedSize
        // What the job can hold: its input and the largest packet it may inflate.
        let charge = compressed.count + limit
        guard
            let inflated = offload(
                charging: charge,
                context: context,
                {
                    try Self.parseRequest(gzip.decompress(compressed, limit: limit))
                }
            )
        else {
            respond(ResponsePacket(rc: .serverBusy), started: started, context: context)
            return
        }
        busy = true
        inflated.assumeIsolated().whenComplete { result in
            self.busy = false
            switch result {
            case .success(let request): self.handle(request, started: started, context: context)
            case .failure(let error): self.fail(context: context, error)
            }
            self.drain(context: context)
        }
    }

    private static func parseRequest(_ bytes: [UInt8]) throws -> RequestPacket {
        guard case .request(let request) = try Packet(parsing: bytes) else {
            throw SessionFailure.unexpectedPacket("a response packet where a request was expected")
        }
        return request
    }

    private func handle(_ request: RequestPacket, started: NIODeadline, context: ChannelHandlerContext) {
        guard !closing else { return }
        function = request.function
        let outcome = dispatcher.handle(request)
        allowance.loggedIn = dispatcher.user != nil
        switch outcome {
        case .respond(let response):
            respond(response, started: started, context: context)
        case .verifyLogin(let login):
            let users = shared.users.current
            busy = true
            guard
                let verified = shared.loginQueue.submit(
                    source: source,
                    user: login.user,
                    on: context.eventLoop,
                    { users.verify(user: login.user, password: login.password) }
                )
            else {
                // Nothing was checked, but a flood must not keep its session open by being refused: it counts.
                finishLogin(user: login.user, outcome: .busy, started: started, context: context)
                return
            }
            verified.assumeIsolated().whenComplete { result in
                let outcome: RequestDispatcher.LoginOutcome
                switch result {
                case .success(let accepted):
                    outcome = accepted ? .accepted : .rejected
                case .failure(let error):
                    // Not a wrong password: the check did not run. The client hears `Server busy` and may retry.
                    self.shared.logLimiter.log(
                        self.logger,
                        level: .error,
                        "password check failed",
                        metadata: ["reason": "\(error)", "user": "\(LoggableText.sanitize(login.user))"]
                    )
                    outcome = .failed
                }
                self.finishLogin(user: login.user, outcome: outcome, started: started, context: context)
            }
        }
    }

    private func finishLogin(
        user: String,
        outcome: RequestDispatcher.LoginOutcome,
        started: NIODeadline,
        context: ChannelHandlerContext
    ) {
        let (response, exhausted) = dispatcher.finishLogin(user: user, outcome: outcome)
        allowance.loggedIn = dispatcher.user != nil
        let userText: Logger.MetadataValue = "\(LoggableText.sanitize(user))"
        shared.metrics.login(outcome)
        switch outcome {
        case .accepted:
            shared.logLimiter.log(logger, level: .info, "login", metadata: ["user": userText])
            busy = false
            respond(response, started: started, context: context)
            drain(context: context)
            return
        case .rejected:
            shared.logLimiter.log(logger, level: .notice, "login rejected", metadata: ["user": userText])
        case .failed:
            break  // logged where the check failed
        case .busy:
            shared.logLimiter.log(
                logger,
                level: .info,
                "server busy",
                metadata: ["reason": "login queue of \(source) full", "user": userText]
            )
        }
        // The answer to a wrong password (or a refused one) comes late, so guessing costs the guesser time.
        let delay = TimeAmount(shared.configuration.failedLoginDelay)
        context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.busy = false
            self.respond(response, started: started, context: context)
            if exhausted {
                self.fail(context: context, SessionFailure.tooManyFailedLogins(self.dispatcher.failedLogins))
            }
            self.drain(context: context)
        }
    }

    private func respond(_ response: ResponsePacket, started: NIODeadline, context: ChannelHandlerContext) {
        guard !closing else { return }
        var response = response
        let elapsed = (NIODeadline.now() - started).nanoseconds / 1_000_000
        response.elapsedMilliseconds = UInt32(clamping: elapsed)
        let gzip = shared.gzip
        // Decided by what zlib has to chew through, not by what it yields. Before login answers are small (an
        // Echo of at most the pre-login packet size) and never use the pool.
        if ResponsePacket.headerSize + response.payload.count < shared.configuration.offloadThreshold
            || !allowance.loggedIn
        {
            shared.metrics.request(function: function, rc: response.rc)
            send(gzip.compressFrame(.response(response)), context: context)
            return
        }
        let packet = Packet.response(response)
        // The payload, and the compressed copy the job builds beside it.
        let charge = 2 * (ResponsePacket.headerSize + response.payload.count)
        guard let compressed = offload(charging: charge, context: context, { gzip.compressFrame(packet) }) else {
            respond(ResponsePacket(rc: .serverBusy), started: started, context: context)
            return
        }
        shared.metrics.request(function: function, rc: response.rc)
        busy = true
        compressed.assumeIsolated().whenComplete { result in
            self.busy = false
            switch result {
            case .success(let frame): self.send(frame, context: context)
            case .failure(let error): self.fail(context: context, error)
            }
            self.drain(context: context)
        }
    }

    private func send(_ frame: consuming UnsealedFrame, context: ChannelHandlerContext) {
        guard !closing, let sealer else { return }
        do {
            let sealed = try sealer.seal(frame)
            // Charged until the socket has taken it: a peer that does not read its answers holds budget.
            guard allowance.add(sealed.count) else {
                fail(
                    context: context,
                    SessionFailure.bufferBudgetExhausted(holding: allowance.held, asked: sealed.count)
                )
                return
            }
            let written = context.eventLoop.makePromise(of: Void.self)
            let allowance = self.allowance
            let size = sealed.count
            shared.metrics.sent(bytes: size)
            written.futureResult.assumeIsolated().whenComplete { _ in allowance.remove(size) }
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: sealed)), promise: written)
        } catch ProtocolError.frameTooLarge {
            // An answer can outgrow the frame limit its request fitted in (an Echo of incompressible bytes):
            // the client gets Bad request instead of a dropped session. Nothing was sealed, so no counter moved.
            send(shared.gzip.compressFrame(.response(ResponsePacket(rc: .badRequest))), context: context)
        } catch {
            fail(context: context, error)
        }
    }

    /// Runs `work` on the thread pool if the server's offload budget has room for one more job of `bytes`.
    /// - Returns: The job's result, or `nil` when the budget is exhausted (the caller answers `Server busy`).
    private func offload<Result: Sendable>(
        charging bytes: Int,
        context: ChannelHandlerContext,
        _ work: @escaping @Sendable () throws -> Result
    ) -> EventLoopFuture<Result>? {
        let budget = shared.offloadBudget
        guard budget.acquire(bytes: bytes) else {
            shared.metrics.offloadRejected()
            shared.logLimiter.log(
                logger,
                level: .info,
                "server busy",
                metadata: ["reason": "thread-pool budget exhausted"]
            )
            return nil
        }
        let future = shared.threadPool.runIfActive(eventLoop: context.eventLoop, work)
        future.whenComplete { _ in budget.release(bytes: bytes) }
        return future
    }

    // MARK: Closing

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        guard readHeld, pending.count < Self.maxPendingFrames, context.channel.isWritable else { return }
        readHeld = false
        allowance.readPaused = false
        context.read()
    }

    private func closeIfDone(context: ChannelHandlerContext) {
        guard quiescing, !busy, pending.isEmpty, !closing else { return }
        close(context: context, level: .info, reason: "server shutting down")
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        guard !closing else { return }
        switch error {
        case let error as ProtocolError where error == .inflatedSizeExceeded: shared.metrics.inflateRejected()
        case SessionFailure.bufferBudgetExhausted: shared.metrics.bufferBudgetRejected()
        default: break
        }
        // Resets and missed deadlines happen to honest clients too; protocol violations deserve attention.
        let level: Logger.Level
        switch error {
        // TLS errors are mostly clients that vanish without a close_notify.
        case is IOError, is ChannelError, is NIOSSLError, SessionFailure.handshakeTimeout: level = .info
        default: level = .notice
        }
        close(context: context, level: level, reason: "\(error)")
    }

    /// Closes after everything written so far is flushed, so a final answer still reaches the client, and
    /// lingers (``LingeringClose``) so that unread bytes do not turn the close into a reset that destroys it.
    private func close(context: ChannelHandlerContext, level: Logger.Level, reason: String) {
        closing = true
        dropPending()
        shared.logLimiter.log(logger, level: level, "session closed", metadata: ["reason": "\(reason)"])
        // A TLS handler still waiting for its handshake holds every write back: there is nothing to flush, and
        // waiting for it would keep a half-open TLS connection for the whole close-flush timeout. The close
        // lingers all the same, from below the TLS handler (EarlyCloseLinger).
        let tlsPending = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
        if !tlsHandshakeCompleted, tlsPending != nil {
            context.close(promise: nil)
            return
        }
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: flushed)
        let channel = context.channel
        // A peer that stops reading keeps the flush from ever completing; it must not keep its slot forever.
        let flushTimeout = shared.configuration.closeFlushTimeout
        let logger = self.logger
        let limiter = shared.logLimiter
        let hardClose = context.eventLoop.scheduleTask(in: TimeAmount(flushTimeout)) {
            limiter.log(
                logger,
                level: .info,
                "session closed without flushing",
                metadata: ["reason": "peer read no answers for \(Self.seconds(flushTimeout)) s after the close"]
            )
            channel.close(promise: nil)
        }
        let lingerTimeout = shared.configuration.closeLingerTimeout
        let lingerMaxBytes = shared.configuration.closeLingerMaxBytes
        flushed.futureResult.assumeIsolated().whenComplete { result in
            hardClose.cancel()
            switch result {
            case .success: LingeringClose.begin(on: channel, timeout: lingerTimeout, maxBytes: lingerMaxBytes)
            case .failure: channel.close(promise: nil)
            }
        }
    }

    /// Gives back what the queued frames held; they will not be handled.
    private func dropPending() {
        while let frame = pending.popFirst() { allowance.remove(frame.wireSize) }
    }

    /// The host part of a `HOST:PORT` peer.
    /// The fairness key of the peer (an IPv6 address by its /64).
    private static func source(of peer: String) -> String {
        SourceKey.of(host: (try? HostPort(parsing: peer))?.host ?? peer)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

@available(*, unavailable)
extension SessionHandler: Sendable {}
