#pragma once
// prctl(2) is variadic, which Swift cannot call: typed wrappers for the two calls the executables need.
#ifdef __linux__
#include <sys/prctl.h>

/// `prctl(PR_SET_DUMPABLE, dumpable)`; 0 on success, -1 with errno set.
static inline int CProcessControl_setDumpable(int dumpable) {
    return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL);
}

/// `prctl(PR_GET_DUMPABLE)`: 1 when the process may be dumped, 0 when not, -1 on error.
static inline int CProcessControl_getDumpable(void) {
    return prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL);
}
#endif

// A signal handler must be async-signal-safe, which Swift code cannot promise: the handler that turns a signal
// into a byte on a pipe is written in C (shim.c).

/// Makes `signals` (count of them) write one byte each to the pipe whose write end is `write_descriptor`, replacing
/// their handlers; the previous dispositions go to `previous` (count of them). 0 on success, -1 with errno set.
int CProcessControl_installSignalWakeup(const int *signals, int count, int write_descriptor, void *previous);

/// Puts back what `CProcessControl_installSignalWakeup` saved in `previous` and forgets the pipe.
void CProcessControl_removeSignalWakeup(const int *signals, int count, const void *previous);

/// The size of one saved disposition (a `struct sigaction`), for the `previous` buffers above.
int CProcessControl_signalDispositionSize(void);

/// 1 when the process ignores `number` (`SIG_IGN`, e.g. SIGHUP under nohup), else 0.
int CProcessControl_isSignalIgnored(int number);
