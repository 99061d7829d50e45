internal import CCrypto

/// Swift faces of the CCrypto whole operations used across the module.
enum Crypto {
    static func randomBytes(_ count: Int) -> [UInt8] {
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            // RAND_bytes only fails when the system has no entropy source at all; nothing sensible can continue.
            precondition(CCrypto_randomBytes(buffer.baseAddress, count) == 1, "RAND_bytes failed")
            initialized = count
        }
        return bytes
    }

    static func sha256(_ parts: [UInt8]...) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let ok = withPointers(parts) { pointers, lengths in
            CCrypto_sha256(pointers, lengths, parts.count, &digest)
        }
        precondition(ok == 1, "SHA-256 failed")
        return digest
    }

    static func hkdfSHA256(ikm: [UInt8], salt: [UInt8], info: String, count: Int) throws(ProtocolError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let infoBytes = Array(info.utf8)
        guard CCrypto_hkdfSHA256(ikm, ikm.count, salt, salt.count, infoBytes, infoBytes.count, &out, count) == 1
        else { throw ProtocolError.cryptoFailure.with(detail: "HKDF-SHA256") }
        return out
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && CCrypto_constantTimeEqual(a, b, a.count) == 1
    }

    static func x25519PublicKey(privateKey: [UInt8]) throws(ProtocolError) -> [UInt8] {
        var publicKey = [UInt8](repeating: 0, count: 32)
        guard privateKey.count == 32, CCrypto_x25519PublicKey(privateKey, &publicKey) == 1 else {
            throw ProtocolError.cryptoFailure.with(detail: "X25519 public key")
        }
        return publicKey
    }

    static func x25519SharedSecret(privateKey: [UInt8], peerPublicKey: [UInt8]) throws(ProtocolError) -> [UInt8] {
        var shared = [UInt8](repeating: 0, count: 32)
        switch CCrypto_x25519Derive(privateKey, peerPublicKey, &shared) {
        case 1: return shared
        case 0: throw ProtocolError.invalidPeerKey
        default: throw ProtocolError.cryptoFailure.with(detail: "X25519 derive")
        }
    }

    static func ed25519PublicKey(privateKey: [UInt8]) throws(ProtocolError) -> [UInt8] {
        var publicKey = [UInt8](repeating: 0, count: 32)
        guard privateKey.count == 32, CCrypto_ed25519PublicKey(privateKey, &publicKey) == 1 else {
            throw ProtocolError.cryptoFailure.with(detail: "Ed25519 public key")
        }
        return publicKey
    }

    static func ed25519Sign(privateKey: [UInt8], message: [UInt8]) throws(ProtocolError) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: 64)
        guard CCrypto_ed25519Sign(privateKey, message, message.count, &signature) == 1 else {
            throw ProtocolError.cryptoFailure.with(detail: "Ed25519 sign")
        }
        return signature
    }

    static func ed25519Verify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        publicKey.count == 32 && signature.count == 64
            && CCrypto_ed25519Verify(publicKey, message, message.count, signature) == 1
    }

    static func pbkdf2SHA256(
        password: [UInt8],
        salt: [UInt8],
        iterations: Int,
        count: Int
    ) throws(ProtocolError)
        -> [UInt8]
    {
        var out = [UInt8](repeating: 0, count: count)
        guard iterations > 0, iterations <= Int(Int32.max),
            CCrypto_pbkdf2SHA256(password, password.count, salt, salt.count, UInt32(iterations), &out, count) == 1
        else { throw ProtocolError.cryptoFailure.with(detail: "PBKDF2-HMAC-SHA256") }
        return out
    }

    private static func withPointers<R>(
        _ parts: [[UInt8]],
        _ body: (UnsafePointer<UnsafePointer<UInt8>?>, UnsafePointer<Int>) -> R
    ) -> R {
        // Arrays' storage is stable while the arrays live; `parts` keeps them alive for the call.
        func recurse(_ index: Int, _ pointers: inout [UnsafePointer<UInt8>?]) -> R {
            if index == parts.count {
                let lengths = parts.map(\.count)
                return body(pointers, lengths)
            }
            return parts[index].withUnsafeBufferPointer { buffer in
                pointers.append(buffer.baseAddress)
                return recurse(index + 1, &pointers)
            }
        }
        var pointers: [UnsafePointer<UInt8>?] = []
        return recurse(0, &pointers)
    }
}
