import NIOCore

/// How both sockets of a tunnel read and queue bulk bytes while SwiftNIO holds them: before the `200`, and for the
/// whole tunnel where ``GlueHandler`` relays (scenarios, or a tunnel the ``TunnelRelay`` could not take).
///
/// NIO's defaults (reads of at most 64 KiB, a channel unwritable above 64 KiB queued) make a bulk transfer stop
/// and restart the other side's reads after nearly every read: one wake-up and one `epoll_ctl` per 64 KiB.
/// Reads of up to 128 KiB and a queue of up to 256 KiB before backpressure halve that; the adaptive allocator
/// still starts at 2 KiB, so idle tunnels hold nothing more, and a tunnel whose reader stalls holds at most the
/// high water mark plus one read per direction.
enum TunnelBuffers {
    static let recvAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 128 << 10)
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 << 10, high: 256 << 10)
}
