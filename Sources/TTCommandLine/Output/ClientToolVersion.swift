import CCurl
import CZlib
import TTCommandSupport

extension VersionReport {
    /// The `--version` text of tt-connect and tt-ping, which link libcurl (the transport) besides the protocol's
    /// libcrypto and zlib.
    static func clientTool(_ name: String) -> String {
        text(
            tool: name,
            libraries: [
                LinkedLibrary(name: "libcurl", cVersion: CCurl_version()), .openSSL,
                LinkedLibrary(name: "zlib", cVersion: zlibVersion()),
            ]
        )
    }
}
