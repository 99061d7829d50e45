import TTBasics

/// Everything a ``ProxyServer`` needs: where to listen, who may use it, where it may tunnel, and its limits.
public struct ProxyServerConfiguration: Sendable {
    /// A `host:port` to listen on; port 0 picks a free port (read it back from ``ProxyServer/listeningAddresses``).
    public struct Listener: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `host:port` or `[v6]:port`; port 0 asks for a free port.
        public init?(parsing text: String) {
            guard let parsed = try? HostPort(parsing: text, allowsPortZero: true) else { return nil }
            self.init(host: parsed.host, port: parsed.port)
        }

        /// `host:port`, with IPv6 hosts in brackets.
        public var description: String { HostPort(host: host, port: port).description }
    }

    /// Addresses to listen on. Default: `127.0.0.1:3128`.
    public var listeners: [Listener] = [Listener(host: "127.0.0.1", port: 3128)]
    /// Users allowed to open tunnels (Basic auth); `nil` lets everyone in.
    public var users: HtpasswdFile?
    /// Target ports a tunnel may go to. Default: all. The proxy's own listeners are refused whatever this says
    /// (`403`, outcome `loop`), so a tunnel can never lead back into the proxy.
    public var allowedPorts: PortSet = .all
    /// A connection (client or target side) with no bytes in either direction for this long is closed, which
    /// ends its tunnel; `nil` never closes idle ones.
    public var idleTimeout: Duration? = .seconds(300)
    /// How an established tunnel's bytes move from socket to socket.
    public enum RelayMode: String, Sendable, CaseIterable {
        /// `recv` and `send` through a 256 KiB buffer per busy direction: one copy in and one out. Where client,
        /// proxy and target share a machine (loopback) it is level with splice when CPU is free and ahead when
        /// CPU is short: there the receiver pays more for spliced bytes than the copies cost the proxy.
        case copy
        /// `splice(2)` through a pipe per busy direction: the bytes never enter user space, so the proxy itself
        /// needs less CPU per byte; the segments it sends carry the sender's pages as they came.
        case splice
    }

    /// How established tunnels move their bytes; both keep half-close, backpressure and the timeouts. Default:
    /// ``RelayMode/copy``.
    public var relayMode: RelayMode = .copy
    /// When one side of a tunnel has closed, the other side still writes what it holds; if those writes make no
    /// progress for this long (its peer stopped reading), it is closed anyway.
    public var closeFlushTimeout: Duration = .seconds(10)
    /// How long a client may take to send a whole request head (again after each `407`) before it gets `408`
    /// and is closed, so slow or silent clients cannot hold descriptors until the idle timeout.
    public var headTimeout: Duration = .seconds(10)
    /// How long dialing a target may take before the client gets `504`.
    public var connectTimeout: Duration = .seconds(10)
    /// Connections open at once, client and target sides together (a tunnel holds two); a client past the limit
    /// gets `503` as soon as it connects, a tunnel whose target connection would pass it gets `503`.
    public var maxConnections: Int = 4096
    /// The largest request head accepted; a longer one gets `431`.
    public var maxHeadBytes: Int = 16 * 1024
    /// Replaces the normal proxy with a scripted misbehaving one (see `proxy-fixtures/README.md`).
    public var scenario: Scenario?
    /// Limits on Basic auth password checks: throttling per source address and a bounded, fair queue.
    public var authLimits = AuthLimits()
    /// Receives one entry per request; default: dropped.
    public var accessLog: AccessLogSink = { _ in }
    /// Receives operational messages that belong to no request (accept failures); rate-limited; default: dropped.
    public var eventLog: @Sendable (String) -> Void = { _ in }

    public init() {}
}
