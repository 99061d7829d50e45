import NIOConcurrencyHelpers
public import NIOSSL
import TTBasics

/// The TLS certificate and key tt-server offers, reloadable while it runs (docs/SERVER.md, "TLS").
///
/// Every new TLS connection takes the context current at its first byte; ``reload()`` re-reads the files and
/// swaps the context for connections that come after it (open ones keep theirs). A reload that fails keeps the
/// previous certificate, so a half-written file never takes the server's TLS down.
public final class ServerTLSContext: Sendable {
    /// The PEM certificate chain file (leaf first).
    public let certificatePath: String
    /// The PEM private key file.
    public let keyPath: String
    private let state: NIOLockedValueBox<State>

    private struct State {
        var context: NIOSSLContext
        /// When the leaf certificate expires (seconds since 1970), for the startup log line.
        var notValidAfter: Int
    }

    /// Loads the certificate chain and key.
    /// - Throws: ``ServerTLSError`` naming the file that cannot be used.
    public init(certificatePath: String, keyPath: String) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        state = NIOLockedValueBox(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// Re-reads the certificate and key files; new connections use them from now on.
    /// - Throws: ``ServerTLSError`` when a file cannot be used; the previous certificate then stays in use.
    public func reload() throws {
        let fresh = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        state.withLockedValue { $0 = fresh }
    }

    /// The context for a new connection.
    public var current: NIOSSLContext { state.withLockedValue { $0.context } }

    /// When the certificate in use expires.
    public var notValidAfter: Int { state.withLockedValue { $0.notValidAfter } }

    private static func load(certificatePath: String, keyPath: String) throws -> State {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ServerTLSError("cannot read the TLS certificate \(certificatePath): \(error)")
        }
        guard let leaf = chain.first else {
            throw ServerTLSError("the TLS certificate file \(certificatePath) holds no certificate")
        }
        // The key's permissions are checked on the descriptor that is read, at start and at every reload.
        let keyBytes: [UInt8]?
        do {
            keyBytes = try FilePermissions.readSecret(keyPath, what: "TLS key", limit: 1 << 20)
        } catch {
            throw ServerTLSError(error.description)
        }
        guard var keyBytes else {
            throw ServerTLSError("the TLS key \(keyPath) does not exist")
        }
        defer { for index in keyBytes.indices { keyBytes[index] = 0 } }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw ServerTLSError("cannot read the TLS key \(keyPath): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return State(context: context, notValidAfter: Int(leaf.notValidAfter))
        } catch {
            throw ServerTLSError(
                "the TLS certificate \(certificatePath) and key \(keyPath) cannot be used together: \(error)"
            )
        }
    }
}

/// A TLS certificate or key that cannot be used.
public struct ServerTLSError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
