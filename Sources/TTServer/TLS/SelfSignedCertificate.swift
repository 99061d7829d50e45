import CCrypto
import Glibc
import TTBasics

/// The certificate tt-server offers TLS clients when it is given none: self-signed, made on first start and kept
/// beside the identity file, looking like any web server's (ECDSA P-256, CN and subjectAltName = the server's
/// name, serverAuth, SHA-256).
///
/// Made with libcrypto through the CCrypto shim, which the server links already: swift-certificates would add
/// swift-asn1, swift-crypto and its own BoringSSL copy to every build for one function called once.
/// Clients do not verify it by default: the framework handshake's pinned Ed25519 identity is the trust anchor.
public enum SelfSignedCertificate {
    /// How long a new certificate is valid; the 397 days public CAs may issue at most.
    public static let validDays = 397

    /// The certificate and key files beside `identityPath`: `tt-server-identity.pem` gives
    /// `tt-server-identity-tls-cert.pem` and `tt-server-identity-tls-key.pem`.
    public static func paths(besideIdentity identityPath: String) -> (certificate: String, key: String) {
        let stem = identityPath.hasSuffix(".pem") ? String(identityPath.dropLast(4)) : identityPath
        return ("\(stem)-tls-cert.pem", "\(stem)-tls-key.pem")
    }

    /// Loads the certificate beside `identityPath`, creating it for `name` first when it does not exist.
    /// - Returns: the context, and whether the files were created now.
    /// - Throws: ``ServerTLSError``.
    public static func loadOrCreate(
        besideIdentity identityPath: String,
        name: String
    ) throws -> (context: ServerTLSContext, created: Bool) {
        let (certificatePath, keyPath) = paths(besideIdentity: identityPath)
        var created = false
        if access(certificatePath, F_OK) != 0 && access(keyPath, F_OK) != 0 {
            let (certificate, key) = try generate(name: name)
            try write(key, to: keyPath)
            try write(certificate, to: certificatePath)
            created = true
        }
        return (try ServerTLSContext(certificatePath: certificatePath, keyPath: keyPath), created)
    }

    /// A new certificate and key for `name` (a host name or an IP address), both PEM.
    /// - Throws: ``ServerTLSError`` when libcrypto fails or the name is empty or too long.
    public static func generate(name: String, days: Int = validDays) throws -> (certificate: String, key: String) {
        var certificate: UnsafeMutablePointer<CChar>?
        var certificateLength = 0
        var key: UnsafeMutablePointer<CChar>?
        var keyLength = 0
        guard
            CCrypto_selfSignedCertificate(
                name,
                Int32(days),
                &certificate,
                &certificateLength,
                &key,
                &keyLength
            ) == 1, let certificate, let key
        else {
            throw ServerTLSError(.cannotCreate, "\"\(name)\"")
        }
        defer {
            CCrypto_freeSecret(certificate, certificateLength)
            CCrypto_freeSecret(key, keyLength)
        }
        return (String(cString: certificate), String(cString: key))
    }

    /// Creates `path` through ``SecretFileWriter`` (mode 0600 from the first byte), refusing to replace a file that
    /// is there.
    private static func write(_ contents: String, to path: String) throws {
        do {
            guard try SecretFileWriter.create(path, with: Array(contents.utf8)) else {
                throw ServerTLSError(.cannotWrite, "cannot create \(path): it already exists")
            }
        } catch let failure as SecretFileWriter.Failure {
            throw ServerTLSError(.cannotWrite, failure.description)
        }
    }
}
