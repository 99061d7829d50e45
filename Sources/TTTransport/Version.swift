// The version lives in TTBasics, which the servers' tools share; `import TTTransport` (and `import TTClient`) still
// see it, as before it moved.
@_exported public import enum TTBasics.TTConnectVersion
