#include "CCrypto.h"

#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

const char *CCrypto_openSSLVersion(void) {
    return OpenSSL_version(OPENSSL_VERSION_STRING);
}

int CCrypto_keepStateUntilExit(void) {
    // No explicit OPENSSL_cleanup later either: NIO's singleton event loops and thread pool are never joined,
    // so no moment before exit is known at which every thread has left libcrypto. The kernel frees the memory.
    return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

int CCrypto_randomBytes(uint8_t *out, size_t length) {
    if (length > INT_MAX) {
        return 0;
    }
    return RAND_bytes(out, (int)length) == 1;
}

int CCrypto_constantTimeEqual(const uint8_t *a, const uint8_t *b, size_t length) {
    return CRYPTO_memcmp(a, b, length) == 0;
}

int CCrypto_sha256(const uint8_t *const *parts, const size_t *partLengths, size_t count, uint8_t out[32]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return 0;
    }
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < count; i++) {
        ok = EVP_DigestUpdate(ctx, parts[i], partLengths[i]) == 1;
    }
    unsigned int written = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, out, &written) == 1 && written == 32;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static int CCrypto_digest(const EVP_MD *type, const uint8_t *input, size_t length, uint8_t *out, unsigned expected) {
    unsigned int written = 0;
    return EVP_Digest(input, length, out, &written, type, NULL) == 1 && written == expected;
}

int CCrypto_md5(const uint8_t *input, size_t length, uint8_t out[16]) {
    return CCrypto_digest(EVP_md5(), input, length, out, 16);
}

int CCrypto_sha1(const uint8_t *input, size_t length, uint8_t out[20]) {
    return CCrypto_digest(EVP_sha1(), input, length, out, 20);
}

int CCrypto_hkdfSHA256(const uint8_t *ikm, size_t ikmLength, const uint8_t *salt, size_t saltLength,
                       const uint8_t *info, size_t infoLength, uint8_t *out, size_t outLength) {
    if (ikmLength > INT_MAX || saltLength > INT_MAX || infoLength > INT_MAX) {
        return 0;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    if (ctx == NULL) {
        return 0;
    }
    size_t written = outLength;
    int ok = EVP_PKEY_derive_init(ctx) == 1
        && EVP_PKEY_CTX_set_hkdf_mode(ctx, EVP_PKEY_HKDEF_MODE_EXTRACT_AND_EXPAND) == 1
        && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1
        && EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, (int)saltLength) == 1
        && EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm, (int)ikmLength) == 1
        && EVP_PKEY_CTX_add1_hkdf_info(ctx, info, (int)infoLength) == 1
        && EVP_PKEY_derive(ctx, out, &written) == 1
        && written == outLength;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

int CCrypto_pbkdf2SHA256(const uint8_t *password, size_t passwordLength, const uint8_t *salt, size_t saltLength,
                         uint32_t iterations, uint8_t *out, size_t outLength) {
    if (passwordLength > INT_MAX || saltLength > INT_MAX || outLength > INT_MAX || iterations == 0
        || iterations > INT_MAX) {
        return 0;
    }
    return PKCS5_PBKDF2_HMAC((const char *)password, (int)passwordLength, salt, (int)saltLength, (int)iterations,
                             EVP_sha256(), (int)outLength, out) == 1;
}

static int rawPublicKey(int type, const uint8_t privateKey[32], uint8_t publicKey[32]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(type, NULL, privateKey, 32);
    if (key == NULL) {
        return 0;
    }
    size_t length = 32;
    int ok = EVP_PKEY_get_raw_public_key(key, publicKey, &length) == 1 && length == 32;
    EVP_PKEY_free(key);
    return ok;
}

int CCrypto_x25519PublicKey(const uint8_t privateKey[32], uint8_t publicKey[32]) {
    return rawPublicKey(EVP_PKEY_X25519, privateKey, publicKey);
}

int CCrypto_x25519Derive(const uint8_t privateKey[32], const uint8_t peerPublicKey[32], uint8_t shared[32]) {
    EVP_PKEY *own = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, privateKey, 32);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peerPublicKey, 32);
    EVP_PKEY_CTX *ctx = own == NULL ? NULL : EVP_PKEY_CTX_new(own, NULL);
    int result = -1;
    if (ctx != NULL && peer != NULL && EVP_PKEY_derive_init(ctx) == 1) {
        size_t length = 32;
        // OpenSSL itself refuses an all-zero result (RFC 7748 section 6.1); the check below keeps that
        // guarantee explicit whatever the library version.
        if (EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, shared, &length) != 1
            || length != 32) {
            result = 0;
        } else {
            static const uint8_t zeros[32] = {0};
            result = CRYPTO_memcmp(shared, zeros, 32) == 0 ? 0 : 1;
        }
    }
    if (result != 1) {
        OPENSSL_cleanse(shared, 32);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(own);
    return result;
}

int CCrypto_ed25519PublicKey(const uint8_t privateKey[32], uint8_t publicKey[32]) {
    return rawPublicKey(EVP_PKEY_ED25519, privateKey, publicKey);
}

int CCrypto_ed25519Sign(const uint8_t privateKey[32], const uint8_t *message, size_t messageLength,
                        uint8_t signature[64]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, privateKey, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t length = 64;
    int ok = key != NULL && ctx != NULL
        && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1
        && EVP_DigestSign(ctx, signature, &length, message, messageLength) == 1
        && length == 64;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}

int CCrypto_ed25519Verify(const uint8_t publicKey[32], const uint8_t *message, size_t messageLength,
                          const uint8_t signature[64]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, publicKey, 32);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = key != NULL && ctx != NULL
        && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1
        && EVP_DigestVerify(ctx, signature, 64, message, messageLength) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}

int CCrypto_ed25519PrivateKeyToPEM(const uint8_t privateKey[32], char **pem, size_t *pemLength) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, privateKey, 32);
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = 0;
    // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
    if (key != NULL && bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1) {
        char *data = NULL;
        long length = BIO_get_mem_data(bio, &data);
        if (length > 0 && data != NULL) {
            *pem = OPENSSL_malloc((size_t)length);
            if (*pem != NULL) {
                memcpy(*pem, data, (size_t)length);
                *pemLength = (size_t)length;
                ok = 1;
            }
            OPENSSL_cleanse(data, (size_t)length);
        }
    }
    BIO_free(bio);
    EVP_PKEY_free(key);
    return ok;
}

int CCrypto_ed25519PrivateKeyFromPEM(const char *pem, size_t pemLength, uint8_t privateKey[32]) {
    if (pemLength > INT_MAX) {
        return 0;
    }
    BIO *bio = BIO_new_mem_buf(pem, (int)pemLength);
    EVP_PKEY *key = bio == NULL ? NULL : PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    size_t length = 32;
    int ok = key != NULL && EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519
        && EVP_PKEY_get_raw_private_key(key, privateKey, &length) == 1 && length == 32;
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ok;
}

void CCrypto_freeSecret(char *buffer, size_t length) {
    OPENSSL_clear_free(buffer, length);
}

struct CCrypto_AEAD {
    EVP_CIPHER_CTX *ctx;
    int encrypt;
    uint8_t iv[12];
};

CCrypto_AEAD *CCrypto_aeadCreate(const uint8_t key[32], const uint8_t iv[12], int encrypt) {
    CCrypto_AEAD *aead = OPENSSL_zalloc(sizeof(CCrypto_AEAD));
    if (aead == NULL) {
        return NULL;
    }
    aead->ctx = EVP_CIPHER_CTX_new();
    aead->encrypt = encrypt;
    memcpy(aead->iv, iv, 12);
    if (aead->ctx == NULL
        || EVP_CipherInit_ex(aead->ctx, EVP_aes_256_gcm(), NULL, key, NULL, encrypt ? 1 : 0) != 1) {
        CCrypto_aeadDestroy(aead);
        return NULL;
    }
    return aead;
}

void CCrypto_aeadDestroy(CCrypto_AEAD *aead) {
    if (aead == NULL) {
        return;
    }
    EVP_CIPHER_CTX_free(aead->ctx);
    OPENSSL_clear_free(aead, sizeof(CCrypto_AEAD));
}

static void frameNonce(const CCrypto_AEAD *aead, uint64_t counter, uint8_t nonce[12]) {
    memcpy(nonce, aead->iv, 12);
    for (int i = 0; i < 8; i++) {
        nonce[4 + i] ^= (uint8_t)(counter >> (56 - 8 * i));
    }
}

int CCrypto_aeadSeal(CCrypto_AEAD *aead, uint64_t counter, const uint8_t *aad, size_t aadLength,
                     const uint8_t *in, size_t length, uint8_t *out, uint8_t tag[16]) {
    if (!aead->encrypt || aadLength > INT_MAX || length > INT_MAX) {
        return 0;
    }
    uint8_t nonce[12];
    frameNonce(aead, counter, nonce);
    int written = 0;
    int ok = EVP_EncryptInit_ex(aead->ctx, NULL, NULL, NULL, nonce) == 1
        && (aadLength == 0 || EVP_EncryptUpdate(aead->ctx, NULL, &written, aad, (int)aadLength) == 1)
        && (length == 0 || EVP_EncryptUpdate(aead->ctx, out, &written, in, (int)length) == 1)
        && EVP_EncryptFinal_ex(aead->ctx, out + (length == 0 ? 0 : written), &written) == 1
        && EVP_CIPHER_CTX_ctrl(aead->ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    return ok;
}

int CCrypto_aeadOpen(CCrypto_AEAD *aead, uint64_t counter, const uint8_t *aad, size_t aadLength,
                     const uint8_t *in, size_t length, const uint8_t tag[16], uint8_t *out) {
    if (aead->encrypt || aadLength > INT_MAX || length > INT_MAX) {
        return 0;
    }
    uint8_t nonce[12];
    frameNonce(aead, counter, nonce);
    int written = 0;
    int ok = EVP_DecryptInit_ex(aead->ctx, NULL, NULL, NULL, nonce) == 1
        && (aadLength == 0 || EVP_DecryptUpdate(aead->ctx, NULL, &written, aad, (int)aadLength) == 1)
        && (length == 0 || EVP_DecryptUpdate(aead->ctx, out, &written, in, (int)length) == 1)
        && EVP_CIPHER_CTX_ctrl(aead->ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) == 1
        && EVP_DecryptFinal_ex(aead->ctx, out + (length == 0 ? 0 : written), &written) == 1;
    if (!ok && length > 0) {
        OPENSSL_cleanse(out, length);
    }
    return ok;
}

#include <stdio.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/ec.h>
#include <arpa/inet.h>

static int CCrypto_addExtension(X509 *certificate, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (extension == NULL) return 0;
    int ok = X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
    return ok;
}

static int CCrypto_bioToBuffer(BIO *bio, char **out, size_t *length) {
    char *data = NULL;
    long size = BIO_get_mem_data(bio, &data);
    if (size <= 0) return 0;
    *out = OPENSSL_malloc((size_t)size + 1);
    if (*out == NULL) return 0;
    memcpy(*out, data, (size_t)size);
    (*out)[size] = 0;
    *length = (size_t)size;
    return 1;
}

int CCrypto_selfSignedCertificate(const char *name, int days, char **certificatePEM, size_t *certificateLength,
                                  char **keyPEM, size_t *keyLength) {
    int ok = 0;
    *certificatePEM = NULL;
    *keyPEM = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *certificate = X509_new();
    BIO *certificateBIO = BIO_new(BIO_s_mem());
    BIO *keyBIO = BIO_new(BIO_s_secmem());
    BIGNUM *serial = BN_new();
    char san[300];
    unsigned char address[16];
    int isAddress = inet_pton(AF_INET, name, address) == 1 || inet_pton(AF_INET6, name, address) == 1;
    if (strlen(name) == 0 || strlen(name) > 253) goto done;
    snprintf(san, sizeof(san), "%s:%s", isAddress ? "IP" : "DNS", name);
    if (key == NULL || certificate == NULL || certificateBIO == NULL || keyBIO == NULL || serial == NULL) goto done;
    if (X509_set_version(certificate, 2) != 1) goto done;
    // A positive 127-bit random serial, as CAs issue them.
    if (BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1
        || BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate)) == NULL) goto done;
    if (X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(certificate), (long)days * 86400) == NULL) goto done;
    X509_NAME *subject = X509_get_subject_name(certificate);
    if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)name, -1, -1, 0) != 1)
        goto done;
    if (X509_set_issuer_name(certificate, subject) != 1 || X509_set_pubkey(certificate, key) != 1) goto done;
    if (!CCrypto_addExtension(certificate, NID_basic_constraints, "critical,CA:FALSE")
        || !CCrypto_addExtension(certificate, NID_key_usage, "critical,digitalSignature")
        || !CCrypto_addExtension(certificate, NID_ext_key_usage, "serverAuth")
        || !CCrypto_addExtension(certificate, NID_subject_key_identifier, "hash")
        || !CCrypto_addExtension(certificate, NID_subject_alt_name, san)) goto done;
    if (X509_sign(certificate, key, EVP_sha256()) == 0) goto done;
    if (PEM_write_bio_X509(certificateBIO, certificate) != 1
        || PEM_write_bio_PrivateKey(keyBIO, key, NULL, NULL, 0, NULL, NULL) != 1) goto done;
    if (!CCrypto_bioToBuffer(certificateBIO, certificatePEM, certificateLength)
        || !CCrypto_bioToBuffer(keyBIO, keyPEM, keyLength)) goto done;
    ok = 1;
done:
    if (!ok) {
        if (*certificatePEM) OPENSSL_free(*certificatePEM);
        if (*keyPEM) OPENSSL_clear_free(*keyPEM, *keyLength);
        *certificatePEM = NULL;
        *keyPEM = NULL;
    }
    BN_free(serial);
    BIO_free(certificateBIO);
    BIO_free_all(keyBIO);
    X509_free(certificate);
    EVP_PKEY_free(key);
    return ok;
}
