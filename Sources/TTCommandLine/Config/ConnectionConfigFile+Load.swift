import Glibc
import TTBasics
package import TTTransport

extension ConnectionConfigFile {
    /// Reads and parses the file at `path`, through one descriptor: the permissions checked (when the file holds
    /// a password) are those of the file read.
    /// - Throws: ``TransportError`` ``TransportError/Category/configuration`` naming `path` (and the line).
    package static func load(path: String) throws(TransportError) -> ConnectionConfigFile {
        let what = "the config file"
        let read: FilePermissions.CheckedFile?
        do {
            read = try FilePermissions.readChecking(path, what: what, limit: 1 << 20)
        } catch {
            throw TransportError.configuration(error.description)
        }
        guard let read else {
            throw TransportError.configuration(
                "cannot read \(what) \(path): \(SystemErrorText.describe(errno: ENOENT))"
            )
        }
        guard let text = String(validating: read.bytes, as: UTF8.self) else {
            throw TransportError.configuration("\(what) \(path) is not UTF-8 text")
        }
        let file = try ConnectionConfigFile(parsing: text, path: path)
        // A password in a file others can read is no secret (OpenSSH refuses such key files the same way).
        if file.holdsPassword {
            do {
                try read.checkSecret(what: "\(what), which holds a proxy password,")
            } catch {
                throw TransportError.configuration(error.description)
            }
        }
        return file
    }
}
