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
