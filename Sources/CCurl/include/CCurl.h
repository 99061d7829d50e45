#pragma once
#include <curl/curl.h>

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
