package import TTClient

extension FrameworkClientError {
    /// The library's message plus the command-line option that changes the value it names.
    ///
    /// The library names values ("check the user name and password"), since a program may have set them in code;
    /// only here, where the user typed them, is it known which flag gave them.
    package var commandLineMessage: String {
        switch category {
        case .loginRejected:
            return message + " (the logon string -S user:password@server:port)"
        case .proxyAuthenticationRequired:
            return message + " (proxy credentials: --proxy-user USER:PASS; scheme: --proxy-auth)"
        case .proxyProtocolViolation where stage == .proxyConnect:
            // TLS with an https:// proxy failed.
            return message + " (CA file: --proxy-cacert FILE; no verification: --proxy-insecure)"
        case .timedOut where stage == .proxyConnect && message.contains("TLS handshake"):
            return message + " (CA file: --proxy-cacert FILE; no verification: --proxy-insecure)"
        case .proxyProtocolViolation where message.contains("it expects https://"):
            return message + " (--proxy https://…)"
        default:
            return message
        }
    }
}
