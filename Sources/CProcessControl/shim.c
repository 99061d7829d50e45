// prctl wrappers live in include/CProcessControl.h (static inline); the signal wake-up lives here.
#include "CProcessControl.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

// The write end of the wake-up pipe, or -1. Only one wake-up is installed at a time (SignalWakeup says so).
static volatile sig_atomic_t wakeDescriptor = -1;

static void CProcessControl_wake(int number) {
    int savedErrno = errno;
    unsigned char byte = (unsigned char)number;
    int descriptor = wakeDescriptor;
    // A full pipe already holds a wake-up; losing this byte loses nothing.
    if (descriptor >= 0) (void)write(descriptor, &byte, 1);
    errno = savedErrno;
}

int CProcessControl_installSignalWakeup(const int *signals, int count, int write_descriptor, void *previous) {
    struct sigaction action;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    action.sa_handler = CProcessControl_wake;
    wakeDescriptor = write_descriptor;
    struct sigaction *saved = previous;
    for (int index = 0; index < count; index++) {
        if (sigaction(signals[index], &action, &saved[index]) != 0) {
            int failure = errno;
            CProcessControl_removeSignalWakeup(signals, index, previous);
            errno = failure;
            return -1;
        }
    }
    return 0;
}

void CProcessControl_removeSignalWakeup(const int *signals, int count, const void *previous) {
    const struct sigaction *saved = previous;
    for (int index = 0; index < count; index++) (void)sigaction(signals[index], &saved[index], NULL);
    wakeDescriptor = -1;
}

int CProcessControl_signalDispositionSize(void) { return (int)sizeof(struct sigaction); }

int CProcessControl_isSignalIgnored(int number) {
    struct sigaction current;
    return sigaction(number, NULL, &current) == 0 && current.sa_handler == SIG_IGN;
}
