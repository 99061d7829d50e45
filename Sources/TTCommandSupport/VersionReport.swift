import CCrypto
import TTBasics

/// One C library a tool uses, as `--version` names it: `OpenSSL/3.0.17`, the `name/version` form of `curl -V`.
package struct LinkedLibrary: Sendable, Hashable, CustomStringConvertible {
    /// The library's name, e.g. `libcurl`.
    package var name: String
    /// The version of the library loaded at run time.
    package var version: String

    /// A library and its version.
    package init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    /// A library and the version string its own C function returns (`unknown` for a null pointer).
    package init(name: String, cVersion: UnsafePointer<CChar>?) {
        self.init(name: name, version: cVersion.map { String(cString: $0) } ?? "unknown")
    }

    package var description: String { "\(name)/\(version)" }

    /// The libcrypto loaded at run time. Every tool links it: the protocol's cryptography, or tt-proxy's htpasswd
    /// hashes.
    package static var openSSL: LinkedLibrary {
        LinkedLibrary(name: "OpenSSL", cVersion: CCrypto_openSSLVersion())
    }
}

/// What `--version` prints, as `curl -V` does: the tool and its version on the first line, then the C libraries
/// it links as the dynamic linker loaded them at run time, which may be newer than those it was built against.
package enum VersionReport {
    /// `tt-server 0.1.0` and, on a second line, `OpenSSL/3.0.17 zlib/1.2.13`.
    package static func text(tool: String, libraries: [LinkedLibrary]) -> String {
        let first = "\(tool) \(TTConnectVersion.current)"
        return libraries.isEmpty ? first : first + "\n" + libraries.map(\.description).joined(separator: " ")
    }
}
