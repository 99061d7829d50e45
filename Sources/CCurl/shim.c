#include "CCurl.h"
#include <stdio.h>

const unsigned long CCurl_AUTH_BASIC = CURLAUTH_BASIC;
const unsigned long CCurl_AUTH_DIGEST = CURLAUTH_DIGEST;
const unsigned long CCurl_AUTH_NEGOTIATE = CURLAUTH_NEGOTIATE;
const unsigned long CCurl_AUTH_NTLM = CURLAUTH_NTLM;
const unsigned long CCurl_AUTH_ANY = CURLAUTH_ANY;
const unsigned long CCurl_AUTH_ONLY = CURLAUTH_ONLY;
const long CCurl_GLOBAL_ALL = CURL_GLOBAL_ALL;
const curl_socket_t CCurl_SOCKET_BAD = CURL_SOCKET_BAD;

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <string.h>

static void CCurl_name_line(X509_NAME *name, char *out, size_t size) {
    out[0] = 0;
    if (name == NULL) return;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        int length = BIO_read(bio, out, (int)size - 1);
        out[length > 0 ? length : 0] = 0;
    }
    BIO_free(bio);
}

int CCurl_tls_facts(void *session, const char *caFile, CCurl_TLSFacts *facts) {
    memset(facts, 0, sizeof(*facts));
    SSL *ssl = (SSL *)session;
    if (ssl == NULL) return 0;
    snprintf(facts->version, sizeof(facts->version), "%s", SSL_get_version(ssl));
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    if (cipher != NULL) {
        const char *name = SSL_CIPHER_standard_name(cipher);
        snprintf(facts->cipher, sizeof(facts->cipher), "%s", name ? name : SSL_CIPHER_get_name(cipher));
    }
    X509 *leaf = SSL_get1_peer_certificate(ssl);
    if (leaf == NULL) return 1;
    facts->hasCertificate = 1;
    CCurl_name_line(X509_get_subject_name(leaf), facts->subject, sizeof(facts->subject));
    CCurl_name_line(X509_get_issuer_name(leaf), facts->issuer, sizeof(facts->issuer));
    facts->selfIssued = X509_check_issued(leaf, leaf) == X509_V_OK;
    // Our own verification, independent of libcurl's (which is off by default: the framework's pinned identity
    // is the trust anchor). It tells a certificate from a public or given CA from one a proxy made up.
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *context = X509_STORE_CTX_new();
    if (store != NULL && context != NULL && X509_STORE_set_default_paths(store) == 1
        && (caFile == NULL || X509_STORE_load_file(store, caFile) == 1)
        && X509_STORE_CTX_init(context, store, leaf, SSL_get_peer_cert_chain(ssl)) == 1) {
        facts->chainVerified = X509_verify_cert(context) == 1;
    }
    X509_STORE_CTX_free(context);
    X509_STORE_free(store);
    X509_free(leaf);
    return 1;
}
