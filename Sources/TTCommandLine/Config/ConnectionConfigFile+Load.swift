import FoundationEssentials
import TTBasics
package import TTTransport

extension ConnectionConfigFile {
    /// Reads and parses the file at `path`.
    /// - Throws: ``TransportError`` ``TransportError/Category/configuration`` naming `path` (and the line).
    package static func load(path: String) throws(TransportError) -> ConnectionConfigFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TransportError.configuration(
                "cannot read the config file \(path): \(SystemErrorText.readFailure(path))"
            )
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TransportError.configuration("the config file \(path) is not UTF-8 text")
        }
        let file = try ConnectionConfigFile(parsing: text, path: path)
        // A password in a file others can read is no secret (OpenSSH refuses such key files the same way).
        if file.holdsPassword {
            do {
                try FilePermissions.checkSecret(path, what: "the config file, which holds a proxy password,")
            } catch {
                throw TransportError.configuration(error.description)
            }
        }
        return file
    }
}
