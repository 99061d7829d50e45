import NIOCore

/// Holds what a target sends before a scenario opens the tunnel.
final class TargetBufferHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var buffer: ByteBuffer?
    private(set) var inputEnded = false
    var onBytes: (() -> Void)?

    var hasBytes: Bool { (buffer?.readableBytes ?? 0) > 0 }

    func take() -> ByteBuffer? {
        buffer.take()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
        onBytes.take()?()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputEnded = true
            onBytes.take()?()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

@available(*, unavailable)
extension TargetBufferHandler: Sendable {}
