import CCrypto
import FoundationEssentials
import Glibc

/// One stored password hash from an htpasswd file, and how to check a password against it.
///
/// Supported, as `htpasswd` writes them: bcrypt (`$2y$`, `$2a$`, `$2b$`, `-B`), Apache MD5 (`$apr1$`, `-m`, the
/// default), SHA-1 (`{SHA}`, `-s`), and the system crypt(3) formats (`$1$`, `$5$` `-2`, `$6$` `-5`, DES `-d`).
/// bcrypt and crypt(3) use libcrypt (libxcrypt) loaded at run time; MD5 and SHA-1 use OpenSSL's libcrypto.
/// Plain-text entries (`htpasswd -p`) are refused: they are not hashes.
enum HtpasswdHash: Sendable {
    case sha1(digest: [UInt8])
    case apr1(salt: String, encoded: String)
    case crypt(String)

    /// Parses a stored hash; `nil` for formats tt-proxy cannot check.
    init?(_ stored: String) {
        if stored.hasPrefix("{SHA}") {
            guard let digest = Data(base64Encoded: String(stored.dropFirst(5))), digest.count == 20 else { return nil }
            self = .sha1(digest: Array(digest))
        } else if stored.hasPrefix("$apr1$") {
            let fields = stored.dropFirst(6).split(separator: "$", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, fields[0].count <= 8, fields[1].count == 22 else { return nil }
            self = .apr1(salt: String(fields[0]), encoded: String(fields[1]))
        } else if ["$2y$", "$2a$", "$2b$", "$1$", "$5$", "$6$"].contains(where: stored.hasPrefix)
            || (stored.count == 13 && stored.allSatisfy(Self.isCryptCharacter))
        {
            guard SystemCrypt.isAvailable, Self.workFactorIsBounded(stored) else { return nil }
            self = .crypt(stored)
        } else {
            return nil
        }
    }

    /// Whether `password` matches; comparisons take the same time wherever the first difference is.
    func matches(_ password: String) -> Bool {
        switch self {
        case .sha1(let digest):
            return constantTimeEqual(Digest.sha1(Array(password.utf8)), digest)
        case .apr1(let salt, let encoded):
            return constantTimeEqual(Array(Self.apr1(password: password, salt: salt).utf8), Array(encoded.utf8))
        case .crypt(let stored):
            guard let computed = SystemCrypt.crypt(password, setting: stored) else { return false }
            return constantTimeEqual(Array(computed.utf8), Array(stored.utf8))
        }
    }

    /// The format and work factor without salt or digest (`$2y$05$`, `$6$rounds=9999$`, `apr1`): hashes of one
    /// class take about as long to check.
    var costClass: String {
        switch self {
        case .sha1: return "sha1"
        case .apr1: return "apr1"
        case .crypt(let stored):
            guard stored.hasPrefix("$") else { return "des" }
            if stored.hasPrefix("$2") { return String(stored.prefix(7)) }
            let fields = stored.split(separator: "$", omittingEmptySubsequences: false)
            let rounds = fields.count > 2 && fields[2].hasPrefix("rounds=") ? fields[2] + "$" : ""
            return "$\(fields[1])$\(rounds)"
        }
    }

    /// bcrypt costs above 17 (htpasswd's own maximum) or SHA-crypt rounds above 1,000,000 take minutes to hours
    /// per check, and every refusal costs as much as the slowest hash in the file: such a line is refused when the
    /// file loads instead of stalling the proxy (found by the htpasswd fuzz target: `$2y$24$`).
    static func workFactorIsBounded(_ stored: String) -> Bool {
        let fields = stored.split(separator: "$", omittingEmptySubsequences: false)
        if stored.hasPrefix("$2") {
            guard fields.count > 2, let cost = Int(fields[2]) else { return false }
            return (4...17).contains(cost)
        }
        if fields.count > 2, fields[2].hasPrefix("rounds=") {
            guard let rounds = Int(fields[2].dropFirst("rounds=".count)) else { return false }
            return rounds <= 1_000_000
        }
        return true
    }

    private static func isCryptCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "." || character == "/")
    }

    private static let itoa64 = Array("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// The 22-character encoded MD5-crypt hash with the `$apr1$` magic, as APR computes it.
    static func apr1(password: String, salt: String) -> String {
        let pw = Array(password.utf8)
        let saltBytes = Array(salt.utf8)
        let magic = Array("$apr1$".utf8)
        var alternate = Digest.md5(pw + saltBytes + pw)
        var context = pw + magic + saltBytes
        var remaining = pw.count
        while remaining > 0 {
            context += alternate.prefix(min(remaining, 16))
            remaining -= 16
        }
        var bits = pw.count
        while bits != 0 {
            context.append(bits & 1 != 0 ? 0 : (pw.first ?? 0))
            bits >>= 1
        }
        alternate = Digest.md5(context)
        for round in 0..<1000 {
            var input: [UInt8] = round & 1 != 0 ? pw : alternate
            if round % 3 != 0 { input += saltBytes }
            if round % 7 != 0 { input += pw }
            input += round & 1 != 0 ? alternate : pw
            alternate = Digest.md5(input)
        }
        var output: [UInt8] = []
        func encode(_ value: Int, _ count: Int) {
            var value = value
            for _ in 0..<count {
                output.append(itoa64[value & 0x3F])
                value >>= 6
            }
        }
        let f = alternate.map(Int.init)
        encode(f[0] << 16 | f[6] << 8 | f[12], 4)
        encode(f[1] << 16 | f[7] << 8 | f[13], 4)
        encode(f[2] << 16 | f[8] << 8 | f[14], 4)
        encode(f[3] << 16 | f[9] << 8 | f[15], 4)
        encode(f[4] << 16 | f[10] << 8 | f[5], 4)
        encode(f[11], 2)
        return String(decoding: output, as: UTF8.self)
    }
}

/// Equal lengths are compared by libcrypto's `CRYPTO_memcmp`; the lengths themselves are not secret.
private func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    return lhs.withUnsafeBufferPointer { left in
        rhs.withUnsafeBufferPointer { right in
            CCrypto_constantTimeEqual(left.baseAddress, right.baseAddress, left.count) == 1
        }
    }
}

/// One-shot legacy digests from libcrypto, for verifying old htpasswd formats only.
enum Digest {
    static func md5(_ bytes: [UInt8]) -> [UInt8] { compute(bytes, size: 16, CCrypto_md5) }
    static func sha1(_ bytes: [UInt8]) -> [UInt8] { compute(bytes, size: 20, CCrypto_sha1) }

    private static func compute(
        _ bytes: [UInt8],
        size: Int,
        _ function: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?) -> Int32
    ) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        let ok = bytes.withUnsafeBufferPointer { input in function(input.baseAddress, input.count, &output) }
        precondition(ok == 1, "libcrypto digest failed")
        return output
    }
}

/// crypt_r(3) from libcrypt, loaded at run time so the proxy still runs (without bcrypt) where libcrypt is absent.
enum SystemCrypt {
    private typealias CryptFunction =
        @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer)
        -> UnsafeMutablePointer<CChar>?

    /// Bytes for one `struct crypt_data`: 32768 in libxcrypt (`/usr/include/crypt.h` here), 131232 in the libcrypt
    /// glibc shipped before 2.28. The larger one fits both.
    private static let dataSize = 131_232

    private static let function: CryptFunction? = {
        for name in ["libcrypt.so.1", "libcrypt.so.2", "libcrypt.so"] {
            if let handle = dlopen(name, RTLD_NOW), let symbol = dlsym(handle, "crypt_r") {
                return unsafeBitCast(symbol, to: CryptFunction.self)
            }
        }
        return nil
    }()

    static var isAvailable: Bool { function != nil }

    /// Hashes `password` with `setting`; `nil` when libcrypt is absent or rejects the setting.
    static func crypt(_ password: String, setting: String) -> String? {
        guard let function else { return nil }
        // crypt_r keeps all its state in its own zeroed `crypt_data`, so checks on different threads run in
        // parallel; plain crypt() shares one static buffer and would need a process-wide lock.
        guard let data = calloc(1, dataSize) else { return nil }
        defer { free(data) }
        guard let result = function(password, setting, data), result.pointee != UInt8(ascii: "*") else { return nil }
        return String(cString: result)
    }
}
