#pragma once
#include <stddef.h>

// Why Kerberos could not give a token for a proxy, asked of MIT GSSAPI directly with the krb5 mechanism.
// libcurl goes through SPNEGO, whose error ("SPNEGO cannot find mechanisms to negotiate") hides whether the
// ticket is missing, expired, or for a realm that does not know the proxy's service. GSSAPI is loaded at run
// time (dlopen of libgssapi_krb5.so.2, which libcurl already pulls in), so building needs no Kerberos headers.

/// The ticket cache has a usable ticket and a service ticket for HTTP@host could be made.
#define CGSSProbe_OK 0
/// No ticket-granting ticket in the credential cache (`KRB5CCNAME`).
#define CGSSProbe_NO_TICKET 1
/// The ticket-granting ticket has expired.
#define CGSSProbe_EXPIRED 2
/// The KDC knows no service principal HTTP/host (a ticket for another realm, or another name for the proxy).
#define CGSSProbe_UNKNOWN_SERVICE 3
/// Another GSSAPI failure; `detail` has GSSAPI's text.
#define CGSSProbe_OTHER 4
/// libgssapi_krb5 could not be loaded.
#define CGSSProbe_UNAVAILABLE 5

/// Probes the default credential cache for a Kerberos token for service `HTTP@host`. Writes the ticket's
/// principal (or GSSAPI's message) to `detail` (always NUL-terminated). Thread-safe as GSSAPI itself is.
int CGSSProbe_check(const char *host, char *detail, size_t detail_size);

/// Writes the principal of the default credential cache's ticket (`alice@TT.TEST`, as klist shows it) to `name`
/// (always NUL-terminated): whom a Negotiate exchange authenticated. Returns CGSSProbe_OK, CGSSProbe_NO_TICKET or
/// CGSSProbe_UNAVAILABLE.
int CGSSProbe_principal(char *name, size_t name_size);
