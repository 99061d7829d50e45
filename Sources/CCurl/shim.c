#include "CCurl.h"

const unsigned long CCurl_AUTH_BASIC = CURLAUTH_BASIC;
const unsigned long CCurl_AUTH_DIGEST = CURLAUTH_DIGEST;
const unsigned long CCurl_AUTH_NEGOTIATE = CURLAUTH_NEGOTIATE;
const unsigned long CCurl_AUTH_NTLM = CURLAUTH_NTLM;
const unsigned long CCurl_AUTH_ANY = CURLAUTH_ANY;
const unsigned long CCurl_AUTH_ONLY = CURLAUTH_ONLY;
const long CCurl_GLOBAL_ALL = CURL_GLOBAL_ALL;
const curl_socket_t CCurl_SOCKET_BAD = CURL_SOCKET_BAD;
