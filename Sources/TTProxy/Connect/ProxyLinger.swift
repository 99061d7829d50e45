import NIOCore
import TTChannelSupport

/// How tt-proxy ends a connection after its last answer (a refusal, a scripted close): the shared lingering close
/// (``LingeringClose``), so bytes the client sent past its head (pipelined data, a head over the limit) do not turn
/// the close into a reset that destroys the answer. A client that keeps sending is cut off at the byte bound, one
/// that keeps the connection open at the time bound.
enum ProxyLinger {
    static let timeout = Duration.seconds(2)
    static let maxBytes = 64 << 10

    /// Shuts the output of `channel` down after what is written and lingers (`--idle-timeout` stops then: the
    /// linger's bounds govern). Must run on the channel's event loop.
    static func begin(on channel: any Channel) {
        LingeringClose.begin(on: channel, timeout: timeout, maxBytes: maxBytes)
    }
}
