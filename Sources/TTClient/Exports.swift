// What `import TTClient` brings besides TTClient's own types: exactly the TTProtocol and TTTransport types that the
// client API mentions (in its initializers, properties, errors and reports) or that a caller needs to build those
// values, and nothing more, so that TTClient's semantic-versioning surface is a deliberate list rather than two
// whole modules. Everything else in those modules (the transports themselves, framing, the codec) is for a caller
// who adds the TTTransport or TTProtocol product and imports it. `scripts/check-api` fails when this list, or any
// public declaration of a library product, changes without its baseline (docs/api/) changing in the same commit.

// Packets, function and return codes, server identity, protocol limits and errors.
@_exported public import struct TTProtocol.FunctionCode
@_exported public import struct TTProtocol.IdentityFingerprint
@_exported public import struct TTProtocol.IdentityPublicKey
@_exported public import struct TTProtocol.ProtocolError
@_exported public import struct TTProtocol.ProtocolLimits
@_exported public import struct TTProtocol.RequestPacket
@_exported public import struct TTProtocol.ResponsePacket
@_exported public import struct TTProtocol.ReturnCode

// Endpoints, routes through proxies, TLS to the target, and the reports and errors of a connection.
@_exported public import struct TTTransport.ConnectExchangeTrace
@_exported public import enum TTTransport.ConnectTraceLevel
@_exported public import struct TTTransport.ConnectionReport
@_exported public import struct TTTransport.Endpoint
@_exported public import struct TTTransport.HTTPProxy
@_exported public import struct TTTransport.HTTPProxyOptions
@_exported public import enum TTTransport.ProxyAuthScheme
@_exported public import struct TTTransport.ProxyAutoConfig
@_exported public import enum TTTransport.ProxyAutoConfigEntry
@_exported public import struct TTTransport.ProxyAutoConfigRoute
@_exported public import struct TTTransport.ProxyCredentials
@_exported public import enum TTTransport.TLSMode
@_exported public import struct TTTransport.TLSSessionReport
@_exported public import struct TTTransport.TargetTLSOptions
@_exported public import struct TTTransport.TransportError
