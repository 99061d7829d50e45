#pragma once
// Whole cryptographic operations over OpenSSL 3 libcrypto (EVP). Keys cross this boundary as raw bytes;
// every function returns 1 on success and 0 on failure unless it says otherwise.
#include <stddef.h>
#include <stdint.h>

/// The version of the libcrypto loaded at run time, e.g. `3.0.17` (`OpenSSL_version(OPENSSL_VERSION_STRING)`).
const char *CCrypto_openSSLVersion(void);

/// Keeps libcrypto's global state until the process is gone: initialises libcrypto with
/// `OPENSSL_INIT_NO_ATEXIT`, so `exit` does not run `OPENSSL_cleanup`, which would free that state while event
/// loop, thread pool or libcurl threads may still be inside libcrypto. Takes effect only when called before any
/// other libcrypto call of the process (the first initialisation decides); returns 1 on success.
int CCrypto_keepStateUntilExit(void);

/// Fills `out` with `length` cryptographically strong random bytes.
int CCrypto_randomBytes(uint8_t *out, size_t length);

/// Compares two buffers in time independent of their contents; returns 1 when equal.
int CCrypto_constantTimeEqual(const uint8_t *a, const uint8_t *b, size_t length);

/// SHA-256 over the concatenation of `count` buffers.
int CCrypto_sha256(const uint8_t *const *parts, const size_t *partLengths, size_t count, uint8_t out[32]);

/// MD5 of one buffer (only for verifying legacy `$apr1$` htpasswd entries; never for anything new).
int CCrypto_md5(const uint8_t *input, size_t length, uint8_t out[16]);

/// SHA-1 of one buffer (only for verifying legacy `{SHA}` htpasswd entries; never for anything new).
int CCrypto_sha1(const uint8_t *input, size_t length, uint8_t out[20]);

/// HKDF-SHA256 (RFC 5869, extract then expand).
int CCrypto_hkdfSHA256(const uint8_t *ikm, size_t ikmLength, const uint8_t *salt, size_t saltLength,
                       const uint8_t *info, size_t infoLength, uint8_t *out, size_t outLength);

/// PBKDF2-HMAC-SHA256.
int CCrypto_pbkdf2SHA256(const uint8_t *password, size_t passwordLength, const uint8_t *salt, size_t saltLength,
                         uint32_t iterations, uint8_t *out, size_t outLength);

/// The X25519 public key of a raw 32-byte private key.
int CCrypto_x25519PublicKey(const uint8_t privateKey[32], uint8_t publicKey[32]);

/// X25519 key agreement. Returns 1 on success, 0 when the peer key is invalid or the shared secret is all zero
/// (a low-order point), -1 on any other failure.
int CCrypto_x25519Derive(const uint8_t privateKey[32], const uint8_t peerPublicKey[32], uint8_t shared[32]);

/// The Ed25519 public key of a raw 32-byte private key (seed).
int CCrypto_ed25519PublicKey(const uint8_t privateKey[32], uint8_t publicKey[32]);

/// Ed25519 signature over `message`.
int CCrypto_ed25519Sign(const uint8_t privateKey[32], const uint8_t *message, size_t messageLength,
                        uint8_t signature[64]);

/// Ed25519 verification; returns 1 only for a valid signature.
int CCrypto_ed25519Verify(const uint8_t publicKey[32], const uint8_t *message, size_t messageLength,
                          const uint8_t signature[64]);

/// Writes an Ed25519 private key as a PKCS#8 PEM into a newly allocated buffer (`*pem`, `*pemLength`);
/// release it with `CCrypto_freeSecret`.
int CCrypto_ed25519PrivateKeyToPEM(const uint8_t privateKey[32], char **pem, size_t *pemLength);

/// Reads a PKCS#8 PEM private key; fails unless it holds an Ed25519 key.
int CCrypto_ed25519PrivateKeyFromPEM(const char *pem, size_t pemLength, uint8_t privateKey[32]);

/// Wipes and frees a buffer returned by this module.
void CCrypto_freeSecret(char *buffer, size_t length);

/// One direction of AES-256-GCM: the key schedule is set up once, each frame only sets its nonce.
typedef struct CCrypto_AEAD CCrypto_AEAD;

/// Creates a sealing (`encrypt` = 1) or opening (`encrypt` = 0) context for `key` and the base `iv`;
/// NULL on failure.
CCrypto_AEAD *CCrypto_aeadCreate(const uint8_t key[32], const uint8_t iv[12], int encrypt);

/// Frees a context and wipes its copy of the IV.
void CCrypto_aeadDestroy(CCrypto_AEAD *aead);

/// Encrypts `length` bytes (`in` may equal `out`) with nonce `iv XOR (0^4 || counter as u64 big-endian)`,
/// authenticating `aad`, and writes the 16-byte tag.
int CCrypto_aeadSeal(CCrypto_AEAD *aead, uint64_t counter, const uint8_t *aad, size_t aadLength,
                     const uint8_t *in, size_t length, uint8_t *out, uint8_t tag[16]);

/// Decrypts and authenticates; returns 1 only when the tag matches (then `out` holds the plaintext).
int CCrypto_aeadOpen(CCrypto_AEAD *aead, uint64_t counter, const uint8_t *aad, size_t aadLength,
                     const uint8_t *in, size_t length, const uint8_t tag[16], uint8_t *out);

/// A self-signed TLS server certificate that looks like an ordinary web server's: a new ECDSA P-256 key, subject
/// and issuer `CN=name`, subjectAltName `DNS:name` (or `IP:name` for an address), serverAuth, SHA-256, valid from
/// an hour ago for `days` days. Writes the certificate and the PKCS#8 key as PEM into newly allocated buffers;
/// release both with `CCrypto_freeSecret`.
int CCrypto_selfSignedCertificate(const char *name, int days, char **certificatePEM, size_t *certificateLength,
                                  char **keyPEM, size_t *keyLength);
