import FoundationEssentials
import TTBasics
import TTTransport

/// Reads a password from a file named in the config file (`password-file`, `proxy-password-file`), so it need
/// be neither on the command line (where `ps` shows it) nor typed at a terminal (cron, CI, services).
///
/// The file must be private to its owner, as OpenSSH insists for key files (``FilePermissions/checkSecret(_:what:)``):
/// a password others can read is no secret. Its first line is the password; one trailing newline (`\n` or
/// `\r\n`) is not part of it. Messages name the file, never its contents or their length.
package enum SecretFile {
    /// - Parameter what: how the file is named in messages, e.g. `proxy password file`.
    /// - Throws: ``TransportError`` of category ``TransportError/Category/configuration``.
    package static func readPassword(_ path: String, what: String) throws -> String {
        let bytes: [UInt8]?
        do {
            // Checked on the descriptor that is read: the file checked is the file read.
            bytes = try FilePermissions.readSecret(path, what: "the \(what)", limit: 64 << 10)
        } catch {
            throw TransportError.configuration(error.description)
        }
        guard let bytes else {
            throw TransportError.configuration("cannot read the \(what) \(path): it does not exist")
        }
        let data = Data(bytes)
        guard let text = String(data: data, encoding: .utf8) else {
            throw TransportError.configuration("the \(what) \(path) is not UTF-8 text")
        }
        // "\r\n" is one Character in Swift, and a newline like "\n".
        let password = String(text.prefix { !$0.isNewline })
        guard !password.isEmpty else {
            throw TransportError.configuration("the \(what) \(path) is empty; its first line must be the password")
        }
        return password
    }
}
