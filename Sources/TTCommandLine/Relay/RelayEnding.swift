import TTClient
import TTCommandSupport
import TTTransport

/// How a relay of `pipe` or `forward` ended, in one line: a tunnel that returned nothing is never silent.
///
/// The case users meet most is a proxy that inspects tunnels (squid `ssl_bump peek`, a firewall): it closes the
/// tunnel as soon as the first bytes are not a TLS ClientHello. Under ssh that shows only as
/// "kex_exchange_identification: Connection closed by remote host", so the relay names it itself (exit 13).
struct RelayEnding {
    /// What the relay moved before it ended (or broke).
    var progress: RelayResult
    /// The target of the relay.
    var target: Endpoint
    /// The URL of the proxy the tunnel went through; `nil` for a direct connection.
    var proxy: String?
    /// The bytes travelled inside TLS with the target.
    var wrapped: Bool

    /// The inspecting-proxy case: through a proxy, raw bytes were sent and the tunnel ended without a byte back,
    /// after no more than an inspecting proxy reads before it decides (its first TLS record, at most 16 KiB and a
    /// header; the rest of the 64 KiB is what the sockets on the way hold). When more went, the proxy carried it:
    /// a target that takes everything and answers nothing (a sink) is done, not cut off.
    var proxyClosedOnData: Bool {
        proxy != nil && !wrapped && progress.bytesToPeer > 0 && progress.bytesToPeer <= Self.inspectionLimit
            && progress.bytesFromPeer == 0
    }

    /// The most an inspecting proxy is taken to accept before it closes the tunnel.
    static let inspectionLimit = 64 * 1024

    /// The failure for ``proxyClosedOnData`` (exit 13, as `check` gives a tunnel an inspecting proxy closed).
    var inspectionFailure: CommandFailure? {
        guard proxyClosedOnData, let proxy else { return nil }
        return CommandFailure(
            exitCode: FrameworkClientError.Category.tunnelInspected.exitCode,
            message: "the proxy closed the tunnel as soon as data was sent: it may allow only TLS; "
                + "`tt-connect check --tls never -x \(proxy) \(target)` tells"
        )
    }

    /// The line for a relay that got nothing back (`nil` when bytes came back): who ended it and what was sent.
    var emptyNote: String? {
        guard progress.bytesFromPeer == 0 else { return nil }
        if let failure = inspectionFailure { return failure.message }
        let through = proxy.map { "the tunnel through \($0) to \(target)" } ?? "the connection to \(target)"
        if progress.inputFinished {
            return "\(through) ended with nothing back after all the input went (\(Self.bytes(progress.bytesToPeer)))"
        }
        return "\(through) ended before anything came back (\(Self.bytes(progress.bytesToPeer)) sent)"
    }

    /// `12 bytes out, 300 in`.
    var counts: String {
        "\(Self.bytes(progress.bytesToPeer)) out, \(progress.bytesFromPeer) in"
    }

    static func bytes(_ count: Int) -> String { count == 1 ? "1 byte" : "\(count) bytes" }
}
