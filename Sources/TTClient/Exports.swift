// The client API mentions packets and function codes (TTProtocol) and endpoints, proxies and transport errors
// (TTTransport): a package that depends on the TTClient product alone gets them with `import TTClient`.
@_exported public import TTProtocol
@_exported public import TTTransport
