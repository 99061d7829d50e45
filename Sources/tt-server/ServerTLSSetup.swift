import FoundationEssentials
import TTServer

/// The certificate tt-server offers TLS clients: the given files, or its self-signed one (docs/SERVER.md, "TLS").
/// ``ServerTLSContext`` checks the key's permissions whenever it reads it.
enum ServerTLSSetup {
    static func context(
        certificate: String?,
        key: String?,
        name: String?,
        identityPath: String,
        listen: [ListenAddress]
    ) throws -> ServerTLSContext {
        if let certificate, let key {
            let context = try ServerTLSContext(certificatePath: certificate, keyPath: key)
            printLine("tls certificate \(certificate)")
            return context
        }
        let name = name ?? defaultName(listen)
        let (context, created) = try SelfSignedCertificate.loadOrCreate(besideIdentity: identityPath, name: name)
        let paths = SelfSignedCertificate.paths(besideIdentity: identityPath)
        printLine("tls certificate \(paths.certificate) (self-signed\(created ? " for \(name), created" : ""))")
        return context
    }

    /// The first listen host, unless it is a wildcard address: then this machine's name.
    static func defaultName(_ listen: [ListenAddress]) -> String {
        let host = listen.first?.host ?? "0.0.0.0"
        if host != "0.0.0.0" && host != "::" && !host.isEmpty { return host }
        return ProcessInfo.processInfo.hostName
    }
}
