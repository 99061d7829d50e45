#pragma once
#include <curl/curl.h>
#include <sys/types.h>
#include <time.h>

// Typed wrappers over libcurl's variadic `curl_easy_setopt` / `curl_easy_getinfo`, which Swift cannot call,
// and the cast macros (`CURLAUTH_*`, `CURL_GLOBAL_*`) Swift cannot import. Every symbol carries the
// `CCurl_` prefix, as swift-nio's `CNIOLinux` does.

/// `curl_easy_setopt` for options of type `long`.
static inline CURLcode CCurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

/// `curl_easy_setopt` for options of type `char *` (libcurl copies the string).
static inline CURLcode CCurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

/// `curl_easy_setopt` for options of type `void *` (callback user data, error buffer).
static inline CURLcode CCurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// `curl_easy_setopt` for options taking a `struct curl_slist *` (libcurl does NOT copy the list).
static inline CURLcode CCurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

/// `curl_easy_setopt(CURLOPT_DEBUGFUNCTION, ...)` with a typed callback.
static inline CURLcode CCurl_easy_setopt_debugfunction(CURL *handle, curl_debug_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}

/// `curl_easy_setopt(CURLOPT_CLOSESOCKETFUNCTION, ...)` with a typed callback (`NULL` restores libcurl's own
/// `close`).
static inline CURLcode CCurl_easy_setopt_closesocketfunction(CURL *handle, curl_closesocket_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_CLOSESOCKETFUNCTION, callback);
}

/// `curl_easy_setopt(CURLOPT_XFERINFOFUNCTION, ...)` with a typed callback (non-zero aborts the transfer).
static inline CURLcode CCurl_easy_setopt_xferinfofunction(CURL *handle, curl_xferinfo_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

/// `curl_easy_setopt(CURLOPT_SOCKOPTFUNCTION, ...)` with a typed callback (called with each new socket).
static inline CURLcode CCurl_easy_setopt_sockoptfunction(CURL *handle, curl_sockopt_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_SOCKOPTFUNCTION, callback);
}

/// `splice(2)` from a pipe to a socket, moving pages instead of copying them, without blocking on the pipe (the
/// socket blocks unless it is non-blocking). Here because Swift's Glibc module leaves out the `_GNU_SOURCE` calls;
/// the relay that uses it already reaches the socket constants through this module.
ssize_t CCurl_splice_nonblocking(int input, int output, size_t count);

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of ``CCurl_TLSFacts/startedAt``.
static inline long long CCurl_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/// `curl_easy_getinfo` for `CURLINFO_LONG` items.
static inline CURLcode CCurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// `curl_easy_getinfo` for `CURLINFO_STRING` items (owned by the handle).
static inline CURLcode CCurl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

/// `curl_easy_getinfo` for `CURLINFO_SOCKET` items (`CURLINFO_ACTIVESOCKET`).
static inline CURLcode CCurl_easy_getinfo_socket(CURL *handle, CURLINFO info, curl_socket_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// The version of the libcurl loaded at run time, e.g. `7.88.1` (`CURLVERSION_NOW` is a macro Swift cannot import).
static inline const char *CCurl_version(void) {
    return curl_version_info(CURLVERSION_NOW)->version;
}

/// What a TLS session looks like from the client, read through libssl from libcurl's OpenSSL session when the
/// handshake completes (``CCurl_easy_observe_tls``). `CURLINFO_TLS_SSL_PTR` cannot be used: after a
/// `CURLOPT_CONNECT_ONLY` transfer the easy handle no longer points at its connection.
typedef struct {
    /// Set to 1 once a handshake completed, or ended with our fatal alert after the certificate arrived (the last
    /// one wins: through an https:// proxy, the target's).
    int completed;
    /// `TLSv1.3`, `TLSv1.2`, …
    char version[32];
    /// The negotiated cipher suite's IANA name, e.g. `TLS_AES_256_GCM_SHA384`.
    char cipher[96];
    /// The server certificate's subject and issuer, one line (RFC 2253), e.g. `CN=tapes.example.com`.
    char subject[512];
    char issuer[512];
    /// 1 when the certificate is self-issued (issuer = subject, its own key signs it).
    int selfIssued;
    /// 1 when the chain verifies against the system CAs (and `caFile`, when set); the host name is not checked.
    int chainVerified;
    /// Whether a certificate was presented at all.
    int hasCertificate;
    /// Set to 1 when libcurl set up TLS for a handshake, which it does once the TCP connection (or the tunnel) is
    /// up; `startedAt` is then ``CCurl_monotonic_ns`` of that moment (the last handshake's, as above).
    int started;
    long long startedAt;
    /// Input: a PEM CA bundle to verify with besides the system CAs (empty: none).
    char caFile[4096];
} CCurl_TLSFacts;

/// Makes libcurl fill `facts` when a TLS handshake of `handle` completes (`CURLOPT_SSL_CTX_FUNCTION` installs an
/// OpenSSL info callback). `facts` must outlive the handle's connection.
CURLcode CCurl_easy_observe_tls(CURL *handle, CCurl_TLSFacts *facts);

// Macro constants with casts Swift does not import.
extern const unsigned long CCurl_AUTH_BASIC;
extern const unsigned long CCurl_AUTH_DIGEST;
extern const unsigned long CCurl_AUTH_NEGOTIATE;
extern const unsigned long CCurl_AUTH_NTLM;
extern const unsigned long CCurl_AUTH_ANY;
extern const unsigned long CCurl_AUTH_ONLY;
extern const long CCurl_GLOBAL_ALL;
extern const curl_socket_t CCurl_SOCKET_BAD;

/// `curl_easy_setopt(CURLOPT_WRITEFUNCTION, ...)` with a typed callback (fetching a PAC file).
static inline CURLcode CCurl_easy_setopt_writefunction(CURL *handle, curl_write_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}
