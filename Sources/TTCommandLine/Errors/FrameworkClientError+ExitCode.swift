package import TTClient

extension FrameworkClientError.Category {
    /// The exit code of the command-line tools for this category: the one place the numbers of docs/CLI.md's
    /// "Exit codes" table live. The library itself has no exit codes.
    package var exitCode: Int32 {
        switch self {
        case .internalError: 1
        case .usage: 2
        case .proxyUnreachable: 3
        case .proxyAuthenticationRequired: 4
        case .proxyRefused: 5
        case .proxyGatewayFailure: 6
        case .proxyProtocolViolation: 7
        case .serverUnreachable: 8
        case .notFrameworkServer: 9
        case .identityMismatch: 10
        case .loginRejected: 11
        case .timedOut: 12
        case .tunnelInspected: 13
        case .serverBusy: 14
        case .outcomeUnknown: 15
        // A category added to the library after this table: a failure all the same, never success.
        default: 1
        }
    }
}
