import Foundation
import TTServer

/// A server TLS context with a fresh self-signed certificate for `localhost`. The context reads its files when it
/// is made, so they are removed at once (a test of `reload()` needs files of its own).
func selfSignedTLSContext() throws -> ServerTLSContext {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let (certificate, key) = try SelfSignedCertificate.generate(name: "localhost")
    let certificatePath = directory.appendingPathComponent("cert.pem").path
    let keyPath = directory.appendingPathComponent("key.pem").path
    try Data(certificate.utf8).write(to: URL(fileURLWithPath: certificatePath))
    guard
        FileManager.default.createFile(
            atPath: keyPath,
            contents: Data(key.utf8),
            attributes: [.posixPermissions: 0o600]
        )
    else { throw CocoaError(.fileWriteUnknown) }
    return try ServerTLSContext(certificatePath: certificatePath, keyPath: keyPath)
}
