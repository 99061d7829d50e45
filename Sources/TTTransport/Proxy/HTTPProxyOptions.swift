public import Logging
import TTBasics

/// How to run the CONNECT exchange, beyond which proxy to use.
public struct HTTPProxyOptions: Sendable {
    /// The `User-Agent` of the CONNECT request.
    public var userAgent: String
    /// Extra header lines for the CONNECT request (`Name: value`), e.g. a tracing header a corporate proxy
    /// requires. They go to the proxy only.
    public var extraHeaders: [String]
    /// A PEM bundle of CAs to verify an https:// proxy with (system CAs when `nil`).
    public var proxyCAFile: String?
    /// Skip verification of an https:// proxy's certificate and name (`--proxy-insecure`).
    public var proxyInsecure: Bool
    /// Receives debug events (proxy used, CONNECT status, auth scheme); never a credential.
    public var logger: Logger
    /// Shows the CONNECT exchange (`-v`), credentials redacted; `nil` shows nothing.
    public var exchangeTrace: ConnectExchangeTrace?

    public init(
        userAgent: String = "tt-connect/\(TTConnectVersion.current)",
        extraHeaders: [String] = [],
        proxyCAFile: String? = nil,
        proxyInsecure: Bool = false,
        logger: Logger = Logger(label: "tt-connect.transport", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.userAgent = userAgent
        self.extraHeaders = extraHeaders
        self.proxyCAFile = proxyCAFile
        self.proxyInsecure = proxyInsecure
        self.logger = logger
    }

    /// The names of ``extraHeaders``, lowercased: the `-v` trace shows their values redacted.
    var extraHeaderNames: Set<String> {
        Set(extraHeaders.map { String($0.prefix { $0 != ":" }.trimmingWhitespace()).lowercased() })
    }
}
