#pragma once
#include <stddef.h>

// libpacparser (Debian libpacparser-dev, /usr/include/pacparser.h) runs only in a child process: a PAC script is
// hostile input (an endless loop, a 400 MB string) and libpacparser's JavaScript engine cannot be interrupted or
// bounded from inside. The parent process never calls pacparser, so it holds no lock across an evaluation.

/// How an isolated evaluation ended.
typedef enum {
    CPacParser_OK = 0,
    /// The script did not parse, threw, or gave no answer; `error` holds pacparser's messages.
    CPacParser_SCRIPT_ERROR = 1,
    /// The deadline passed; the child was killed.
    CPacParser_TIMED_OUT = 2,
    /// The answer was longer than `result_size - 1` bytes; the child was killed.
    CPacParser_TOO_LARGE = 3,
    /// The child died of a signal: its CPU or memory limit, or a crash; `error` names the signal.
    CPacParser_RESOURCE_LIMIT = 4,
    /// fork or pipe failed; `error` names the call.
    CPacParser_SYSTEM_ERROR = 5,
    /// `cancelled(context)` returned non-zero; the child was killed.
    CPacParser_CANCELLED = 6,
} CPacParser_Outcome;

/// Evaluates `FindProxyForURL(url, host)` of the PAC script `pac` in a forked child that calls only pacparser,
/// write(2) and _exit(2), with RLIMIT_CPU `cpu_seconds` and RLIMIT_AS the address space inherited at fork plus
/// `memory_limit` bytes. The parent reads the answer through a pipe with poll(2) against `timeout_ms`, asks
/// `cancelled(context)` (may be NULL) every 20 ms, kills the child with SIGKILL when it is over any limit or
/// cancelled, and always reaps it. On CPacParser_OK the NUL-terminated answer is in `result`; `error` is always
/// terminated.
CPacParser_Outcome CPacParser_evaluate(const char *pac, const char *url, const char *host, int timeout_ms,
                                       unsigned long memory_limit, unsigned long cpu_seconds,
                                       int (*cancelled)(void *context), void *context, char *result,
                                       size_t result_size,
                                       char *error, size_t error_size);
