import NIOCore
import TTChannelSupport

/// How tt-proxy ends a connection after its last answer (a refusal, a scripted close): the shared lingering close
/// (``LingeringClose``), so bytes the client sent past its head (pipelined data, a head over the limit) do not turn
/// the close into a reset that destroys the answer. A client that keeps sending is cut off at the byte bound, one
/// that keeps the connection open at the time bound.
enum ProxyLinger {
    static let timeout = Duration.seconds(2)
    static let maxBytes = 64 << 10

    /// Shuts the output of `channel` down after what is written and lingers. Must run on the channel's event loop.
    ///
    /// The idle timer (`--idle-timeout`) stops first: it is for heads and tunnels, and the bytes the linger drops
    /// never reach it, so an idle timeout shorter than the linger would close the connection in the middle of the
    /// drain, and the client's next bytes would meet a reset. The linger's own bounds govern from here.
    static func begin(on channel: any Channel) {
        let pipeline = channel.pipeline.syncOperations
        if let idle = try? pipeline.context(handlerType: IdleStateHandler.self) {
            pipeline.removeHandler(context: idle, promise: nil)
        }
        LingeringClose.begin(on: channel, timeout: timeout, maxBytes: maxBytes)
    }
}
