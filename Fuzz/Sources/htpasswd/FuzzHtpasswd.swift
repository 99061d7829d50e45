@testable import TTProxy

// An htpasswd file given to tt-proxy --auth-file: lines and stored hashes. Hashes are checked against a password
// only where that is cheap (the file sets bcrypt's and SHA-crypt's work factor, which is the admin's choice).

@_cdecl("LLVMFuzzerTestOneInput")
func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // Loading measures one check per work factor in the file: only for files whose hashes are all cheap, or an
    // input listing costly work factors (the admin's choice, bounded at load) is a slow input, not a finding.
    let allCheap = text.split(separator: "\n").allSatisfy { line in
        let stored = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last ?? line
        guard case .crypt(let setting)? = HtpasswdHash(String(stored)) else { return true }
        return isCheap(setting)
    }
    if allCheap, let file = try? HtpasswdFile(parsing: text) {
        _ = file.users
        _ = file.decoy?.costClass
    }
    for line in text.split(separator: "\n") {
        let stored = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last ?? line
        guard let hash = HtpasswdHash(String(stored)) else { continue }
        _ = hash.costClass
        switch hash {
        case .sha1, .apr1:
            _ = hash.matches("secret")
        case .crypt(let setting):
            if isCheap(setting) { _ = hash.matches("secret") }
        }
    }
    return 0
}

/// crypt(3) settings whose check takes milliseconds: MD5-crypt, DES, bcrypt cost 4-5, SHA-crypt default rounds.
func isCheap(_ setting: String) -> Bool {
    setting.hasPrefix("$1$") || !setting.hasPrefix("$")
        || (setting.hasPrefix("$2") && ["04", "05"].contains(setting.dropFirst(4).prefix(2)))
        || ((setting.hasPrefix("$5$") || setting.hasPrefix("$6$")) && !setting.contains("rounds="))
}
