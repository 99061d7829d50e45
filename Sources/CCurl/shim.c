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
#include <pthread.h>

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

static int CCurl_factsIndex = -1;
static pthread_once_t CCurl_factsOnce = PTHREAD_ONCE_INIT;

static void CCurl_makeFactsIndex(void) {
    CCurl_factsIndex = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void CCurl_fill(const SSL *ssl, CCurl_TLSFacts *facts) {
    snprintf(facts->version, sizeof(facts->version), "%s", SSL_get_version(ssl));
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    if (cipher != NULL) {
        const char *name = SSL_CIPHER_standard_name(cipher);
        snprintf(facts->cipher, sizeof(facts->cipher), "%s", name ? name : SSL_CIPHER_get_name(cipher));
    }
    X509 *leaf = SSL_get1_peer_certificate(ssl);
    // A handshake we end with an alert after refusing the certificate (--tls-verify) never stores it as the
    // peer's; the chain the peer presented is kept, leaf first.
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    if (leaf == NULL && chain != NULL && sk_X509_num(chain) > 0) {
        leaf = sk_X509_value(chain, 0);
        X509_up_ref(leaf);
    }
    facts->hasCertificate = leaf != NULL;
    facts->subject[0] = facts->issuer[0] = 0;
    facts->selfIssued = facts->chainVerified = 0;
    if (leaf == NULL) return;
    CCurl_name_line(X509_get_subject_name(leaf), facts->subject, sizeof(facts->subject));
    CCurl_name_line(X509_get_issuer_name(leaf), facts->issuer, sizeof(facts->issuer));
    // Self-signed: issuer = subject and its own key verifies the signature (X509_check_issued would also demand
    // keyCertSign, which a server certificate does not have).
    facts->selfIssued = X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) == 0
        && X509_verify(leaf, X509_get0_pubkey(leaf)) == 1;
    // Our own verification, independent of libcurl's (which is off by default: the framework's pinned identity
    // is the trust anchor). It tells a certificate from a public or given CA from one a proxy made up.
    // A self-signed certificate is no interception; it needs no lookup.
    if (facts->selfIssued) {
        X509_free(leaf);
        return;
    }
    // The system CAs through the hashed directory only: looked up by issuer name, nothing parsed in advance
    // (X509_STORE_set_default_paths also opens an OSSL_STORE on the directory, which cost ~300 ms per handshake).
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *context = X509_STORE_CTX_new();
    X509_LOOKUP *directory = store ? X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir()) : NULL;
    if (store != NULL && context != NULL && directory != NULL
        && X509_LOOKUP_add_dir(directory, X509_get_default_cert_dir(), X509_FILETYPE_PEM) == 1
        && (facts->caFile[0] == 0 || X509_STORE_load_file(store, facts->caFile) == 1)
        && X509_STORE_CTX_init(context, store, leaf, SSL_get_peer_cert_chain(ssl)) == 1) {
        facts->chainVerified = X509_verify_cert(context) == 1;
    }
    X509_STORE_CTX_free(context);
    X509_STORE_free(store);
    X509_free(leaf);
}

static void CCurl_infoCallback(const SSL *ssl, int where, int value) {
    (void)value;
    // A fatal alert we send ends the handshake too (libcurl refusing the certificate with --tls-verify): the
    // certificate's facts then tell an intercepting proxy from a server's own certificate.
    int refused = (where & SSL_CB_WRITE_ALERT) == SSL_CB_WRITE_ALERT && (value >> 8) == SSL3_AL_FATAL;
    if (!(where & SSL_CB_HANDSHAKE_DONE) && !refused) return;
    CCurl_TLSFacts *facts = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), CCurl_factsIndex);
    // OpenSSL reports HANDSHAKE_DONE again for TLS 1.3 session tickets; the facts stay the same.
    if (facts == NULL || facts->completed) return;
    CCurl_fill(ssl, facts);
    facts->completed = 1;
}

static CURLcode CCurl_sslContextCallback(CURL *handle, void *context, void *facts) {
    (void)handle;
    // Through an https:// proxy the proxy's handshake comes first; the target's then overwrites its facts.
    ((CCurl_TLSFacts *)facts)->completed = 0;
    ((CCurl_TLSFacts *)facts)->started = 1;
    ((CCurl_TLSFacts *)facts)->startedAt = CCurl_monotonic_ns();
    SSL_CTX_set_ex_data((SSL_CTX *)context, CCurl_factsIndex, facts);
    SSL_CTX_set_info_callback((SSL_CTX *)context, CCurl_infoCallback);
    return CURLE_OK;
}

CURLcode CCurl_easy_observe_tls(CURL *handle, CCurl_TLSFacts *facts) {
    pthread_once(&CCurl_factsOnce, CCurl_makeFactsIndex);
    if (CCurl_factsIndex < 0) return CURLE_OUT_OF_MEMORY;
    CURLcode result = curl_easy_setopt(handle, CURLOPT_SSL_CTX_FUNCTION, CCurl_sslContextCallback);
    if (result == CURLE_OK) result = curl_easy_setopt(handle, CURLOPT_SSL_CTX_DATA, facts);
    return result;
}
