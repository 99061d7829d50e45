import NIOCore
import NIOPosix

/// Opens the proxy's connection to a tunnel target, the same way for the normal proxy and for scenarios:
/// on the client's event loop, with the configured dial timeout, and half-close allowed so it can be relayed.
/// Without `autoRead` the channel reads nothing until told to, so its socket can be handed to the
/// ``TunnelRelay`` with no byte already taken out of it.
enum TargetDialer {
    static func connect(
        to target: ConnectTarget,
        on eventLoop: any EventLoop,
        configuration: ProxyServerConfiguration,
        autoRead: Bool = true
    ) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(ChannelOptions.autoRead, value: autoRead)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.recvAllocator, value: TunnelBuffers.recvAllocator)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: TunnelBuffers.writeBufferWaterMark)
            .connect(host: target.host, port: target.port)
    }
}
