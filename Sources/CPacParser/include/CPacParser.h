#pragma once
#include <stddef.h>

// One call into libpacparser (Debian libpacparser-dev, /usr/include/pacparser.h) that does the whole
// init / parse / find / cleanup cycle under one process-wide lock. pacparser keeps a single global JavaScript
// context and is not thread-safe, so no other code may call it; its error printer (a va_list callback Swift
// cannot implement) is captured here into `error`.

/// Evaluates `FindProxyForURL(url, host)` of the PAC script `pac`.
/// On success returns 1 and writes the NUL-terminated answer (`PROXY a:3128; DIRECT`) to `result`; on failure
/// returns 0 and writes pacparser's messages (truncated) to `error`. Both buffers are always terminated.
int CPacParser_find_proxy(const char *pac, const char *url, const char *host,
                          char *result, size_t result_size, char *error, size_t error_size);
