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
            throw ServerTLSError(.certificateUnreadable, "\(certificatePath): \(error)")
        }
        guard let leaf = chain.first else {
            throw ServerTLSError(.noCertificate, certificatePath)
        }
        // The key's permissions are checked on the descriptor that is read, at start and at every reload.
        let keyBytes: [UInt8]?
        do {
            keyBytes = try FilePermissions.readSecret(keyPath, what: "TLS key", limit: 1 << 20)
        } catch {
            throw ServerTLSError(.keyRefused, error.description)
        }
        guard var keyBytes else {
            throw ServerTLSError(.keyMissing, keyPath)
        }
        defer { for index in keyBytes.indices { keyBytes[index] = 0 } }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw ServerTLSError(.keyUnreadable, "\(keyPath): \(error)")
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
            throw ServerTLSError(.mismatch, "\(certificatePath) and key \(keyPath) cannot be used together: \(error)")
        }
    }
}

/// A TLS certificate or key that cannot be used, or made; compare with the static members.
public struct ServerTLSError: Error, Hashable, Sendable, CustomStringConvertible {
    enum Code: Hashable, Sendable {
        case certificateUnreadable, noCertificate, keyUnreadable, keyMissing, keyRefused, mismatch, cannotCreate
        case cannotWrite
    }

    private let code: Code
    /// The file (and the library's or system's words) the error is about.
    public let detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// Errors are the same when their members are; the detail does not count.
    public static func == (lhs: ServerTLSError, rhs: ServerTLSError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// The certificate file cannot be read as PEM certificates.
    public static let certificateUnreadable = ServerTLSError(.certificateUnreadable, "")
    /// The certificate file holds no certificate.
    public static let noCertificate = ServerTLSError(.noCertificate, "")
    /// The key file cannot be read as a PEM private key.
    public static let keyUnreadable = ServerTLSError(.keyUnreadable, "")
    /// The key file does not exist.
    public static let keyMissing = ServerTLSError(.keyMissing, "")
    /// The key file is not private (others may read it, or another user owns it); ``detail`` says how.
    public static let keyRefused = ServerTLSError(.keyRefused, "")
    /// The certificate and the key do not belong together (or TLS refuses them).
    public static let mismatch = ServerTLSError(.mismatch, "")
    /// No self-signed certificate could be made (libcrypto failed, or the name is empty or too long).
    public static let cannotCreate = ServerTLSError(.cannotCreate, "")
    /// A certificate or key file could not be written.
    public static let cannotWrite = ServerTLSError(.cannotWrite, "")

    public var description: String {
        switch code {
        case .certificateUnreadable: "cannot read the TLS certificate \(detail)"
        case .noCertificate: "the TLS certificate file \(detail) holds no certificate"
        case .keyUnreadable: "cannot read the TLS key \(detail)"
        case .keyMissing: "the TLS key \(detail) does not exist"
        case .keyRefused: detail
        case .mismatch: "the TLS certificate \(detail)"
        case .cannotCreate: "cannot create a TLS certificate for \(detail)"
        case .cannotWrite: detail
        }
    }
}
