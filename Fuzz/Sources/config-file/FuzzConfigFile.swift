import Foundation
import TTTransport

// A tt-connect config file (docs/CONFIG.md), and the proxy each of its connections resolves to.
//
// A byte 0x01 in the input stands for a password; an error message must never show it when it sits where a
// proxy password goes (`…:PASSWORD…@`).

let password = "pw-SECRET-9"

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
        .split(separator: "\u{1}", omittingEmptySubsequences: false).joined(separator: password)
    let file: ConnectionConfigFile
    do {
        file = try ConnectionConfigFile(parsing: text, path: "fuzz.conf")
    } catch {
        let message = String(describing: error)
        precondition(!message.contains(password) || !inPasswordPosition(text), "password shown: \(message)")
        return 0
    }
    for entry in file.entries {
        precondition((try? file.entry(named: entry.name))?.name == entry.name)
        precondition(entry.port.map { (1...65535).contains($0) } ?? true)
        let target = Endpoint(host: entry.server ?? "localhost", port: entry.port ?? 5000)
        let decision = try? ProxyConfiguration.resolve(
            target: target,
            flags: ProxyFlags(),
            entry: entry,
            environment: [:]
        )
        _ = decision?.proxy?.description
        if let credentials = entry.proxy?.credentials {
            precondition(!String(describing: credentials).contains(password) || credentials.user.contains(password))
        }
    }
    return 0
}

/// Whether the one password in `text` is in a `proxy = …` value, after a `:` that is not a scheme's `://` and
/// before an `@`.
func inPasswordPosition(_ text: String) -> Bool {
    let parts = text.split(separator: password, omittingEmptySubsequences: false)
    guard parts.count == 2 else { return false }
    let line = parts[0].split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
    guard let equals = line.firstIndex(of: "="),
        line[..<equals].trimmingCharacters(in: .whitespaces).lowercased() == "proxy"
    else { return false }
    let before = line[line.index(after: equals)...]
    let after = parts[1].prefix { $0 != "\n" }
    guard let colon = before.lastIndex(of: ":"), !before[colon...].hasPrefix("://") else { return false }
    return after.contains("@")
}
