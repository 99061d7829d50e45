public import NIOCore
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
    /// Target ports a tunnel may go to. Default: all.
    public var allowedPorts: PortSet = .all
    /// A connection with no bytes in either direction for this long is closed; `nil` never closes idle ones.
    public var idleTimeout: TimeAmount? = .seconds(300)
    /// How long a client may take to send a whole request head (again after each `407`) before it gets `408`
    /// and is closed, so slow or silent clients cannot hold descriptors until the idle timeout.
    public var headTimeout: TimeAmount = .seconds(10)
    /// How long dialing a target may take before the client gets `504`.
    public var connectTimeout: TimeAmount = .seconds(10)
    /// Client connections open at once; a client past the limit gets `503` as soon as it connects.
    public var maxConnections: Int = 4096
    /// The largest request head accepted; a longer one gets `431`.
    public var maxHeadBytes: Int = 16 * 1024
    /// Replaces the normal proxy with a scripted misbehaving one (see `proxy-fixtures/README.md`).
    public var scenario: Scenario?
    /// Receives one entry per request; default: dropped.
    public var accessLog: AccessLogSink = { _ in }

    public init() {}
}
