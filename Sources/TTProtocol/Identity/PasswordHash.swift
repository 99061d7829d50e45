import TTBasics

/// A salted PBKDF2-HMAC-SHA256 password hash, stored as `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`
/// (standard padded base64), as the server's users file keeps it.
public struct PasswordHash: Hashable, Sendable, CustomStringConvertible {
    /// Iterations for new hashes (OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256).
    public static let defaultIterations = 600_000
    /// The most iterations a stored hash may ask for: 16 times the default, about 5 s per check on one core. The
    /// format allows 2^31 - 1, about 20 minutes per check, on a thread the other logins wait for.
    package static let maxIterations = 10_000_000
    /// The longest stored hash: each 32 bytes of it cost a whole PBKDF2 run of `iterations`.
    package static let maxHashLength = 64
    static let scheme = "pbkdf2-sha256"

    public let iterations: Int
    public let salt: [UInt8]
    public let hash: [UInt8]

    /// Hashes `password` with a fresh random 16-byte salt.
    /// - Parameter iterations: PBKDF2 iterations (clamped to 1...10,000,000); tests may use few, users files
    ///   should not.
    public init(hashing password: String, iterations: Int = defaultIterations) {
        let salt = Crypto.randomBytes(16)
        self.iterations = min(max(1, iterations), Self.maxIterations)
        self.salt = salt
        hash = try! Crypto.pbkdf2SHA256(
            password: Array(password.utf8),
            salt: salt,
            iterations: self.iterations,
            count: 32
        )
    }

    /// Parses the stored form.
    /// - Throws: ``ProtocolError/invalidPasswordHash``, with a detail when the hash is well formed but would take
    ///   too long to check (over 10,000,000 iterations, or a hash over 64 bytes).
    public init(parsing text: String) throws(ProtocolError) {
        let fields = text.trimmingWhitespace().split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0] == Self.scheme,
            let iterations = Int(fields[1]), iterations > 0,
            let salt = Base64.decode(fields[2]), !salt.isEmpty,
            let hash = Base64.decode(fields[3]), hash.count >= 16
        else {
            // Never echo the text: it may be a password typed into the wrong field.
            throw ProtocolError.invalidPasswordHash
        }
        guard iterations <= Self.maxIterations else {
            throw ProtocolError.invalidPasswordHash.with(
                detail: "\(iterations) iterations, at most \(Self.maxIterations)"
            )
        }
        guard hash.count <= Self.maxHashLength else {
            throw ProtocolError.invalidPasswordHash.with(
                detail:
                    "a hash of \(hash.count) bytes, at most \(Self.maxHashLength) (each 32 bytes cost a whole PBKDF2 run)"
            )
        }
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    /// The stored form.
    public var encoded: String {
        "\(Self.scheme)$\(iterations)$\(Base64.encode(salt))$\(Base64.encode(hash))"
    }

    /// Whether `password` hashes to this value; the comparison takes the same time wherever it differs.
    public func verify(_ password: String) -> Bool {
        guard
            let candidate = try? Crypto.pbkdf2SHA256(
                password: Array(password.utf8),
                salt: salt,
                iterations: iterations,
                count: hash.count
            )
        else { return false }
        return Crypto.constantTimeEqual(candidate, hash)
    }

    /// Shows the scheme and cost, never the salt or hash.
    public var description: String { "PasswordHash(\(Self.scheme), \(iterations) iterations)" }
}
