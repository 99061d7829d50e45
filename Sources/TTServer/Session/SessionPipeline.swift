import NIOCore
import TTProtocol

/// The handlers of a new session, in order: early-close linger (until the handshake completes) → idle timer →
/// PROXY header (if enabled) → TLS sniffer (with a certificate; it adds the TLS handler when the first byte is a
/// TLS record) → handshake (then frame decoder) → session.
enum SessionPipeline {
    static func install(on channel: any Channel, context: SessionContext, peer: String) throws {
        let pipeline = channel.pipeline.syncOperations
        let allowance = SessionAllowance(
            budget: context.bufferBudget,
            preLoginMaxPacketSize: context.preLoginMaxPacketSize,
            frameTimeout: TimeAmount(context.frameTimeout)
        )
        try pipeline.addHandler(EarlyCloseLinger(configuration: context.configuration))
        try pipeline.addHandler(IdleStateHandler(allTimeout: TimeAmount(context.limits.idleTimeout)))
        if context.configuration.acceptsProxyProtocol {
            try pipeline.addHandler(ByteToMessageHandler(ProxyProtocolDecoder()))
        }
        if let tls = context.configuration.tls {
            try pipeline.addHandler(ByteToMessageHandler(TLSSniffer(tls: tls)))
        }
        try pipeline.addHandler(
            ByteToMessageHandler(
                HandshakeDecoder(identity: context.configuration.identity, limits: context.limits, allowance: allowance)
            )
        )
        try pipeline.addHandler(SessionHandler(context: context, peer: peer, allowance: allowance))
    }
}
