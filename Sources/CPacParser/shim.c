#define _GNU_SOURCE
#include "CPacParser.h"

#include <errno.h>
#include <fcntl.h>
#include <pacparser.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Child only: pacparser's messages, collected by its error printer (a va_list callback Swift cannot implement).
static char child_error[1024];

static int child_capture(const char *format, va_list arguments) {
    size_t used = strlen(child_error);
    if (used + 1 >= sizeof child_error) return 0;
    return vsnprintf(child_error + used, sizeof child_error - used, format, arguments);
}

static void write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        data += written;
        length -= (size_t)written;
    }
}

static void child_finish(int fd, char kind, const char *text, int status) {
    write_all(fd, &kind, 1);
    if (text != NULL) write_all(fd, text, strlen(text));
    _exit(status);
}

static void child_run(int fd, const char *pac, const char *url, const char *host, rlim_t address_space,
                      unsigned long cpu_seconds) {
    // Nothing of the parent's but the pipe: sockets and listeners must not stay open in here.
    if (fd > 3) syscall(SYS_close_range, 3, (unsigned)fd - 1, 0);
    syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0);
    struct rlimit cpu = {cpu_seconds, cpu_seconds + 1};
    setrlimit(RLIMIT_CPU, &cpu);
    struct rlimit memory = {address_space, address_space};
    setrlimit(RLIMIT_AS, &memory);
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    child_error[0] = 0;
    pacparser_set_error_printer(child_capture);
    if (!pacparser_init()) child_finish(fd, 'E', "pacparser_init failed", 1);
    if (!pacparser_parse_pac_string(pac)) child_finish(fd, 'E', child_error, 1);
    const char *answer = pacparser_find_proxy(url, host);
    if (answer == NULL) child_finish(fd, 'E', child_error, 1);
    child_finish(fd, 'A', answer, 0);
}

/// The address space of this process now, in bytes (0 when unknown).
static rlim_t current_address_space(void) {
    FILE *statm = fopen("/proc/self/statm", "re");
    if (statm == NULL) return 0;
    unsigned long pages = 0;
    int read = fscanf(statm, "%lu", &pages);
    fclose(statm);
    return read == 1 ? (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) : 0;
}

static long elapsed_ms(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

CPacParser_Outcome CPacParser_evaluate(const char *pac, const char *url, const char *host, int timeout_ms,
                                       unsigned long memory_limit, unsigned long cpu_seconds,
                                       int (*cancelled)(void *context), void *context, char *result,
                                       size_t result_size,
                                       char *error, size_t error_size) {
    if (result_size > 0) result[0] = 0;
    if (error_size > 0) error[0] = 0;
    if (result_size == 0) return CPacParser_SYSTEM_ERROR;
    // The kind byte, up to result_size - 1 bytes of answer, and one more to see that it is too long.
    size_t capacity = result_size + 1;
    char *received = malloc(capacity);
    if (received == NULL) return CPacParser_SYSTEM_ERROR;
    rlim_t address_space = current_address_space() + (rlim_t)memory_limit;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(error, error_size, "pipe: %s", strerror(errno));
        free(received);
        return CPacParser_SYSTEM_ERROR;
    }
    pid_t child = fork();
    if (child < 0) {
        snprintf(error, error_size, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(received);
        return CPacParser_SYSTEM_ERROR;
    }
    if (child == 0) {
        close(fds[0]);
        child_run(fds[1], pac, url, host, address_space, cpu_seconds);
        _exit(1);
    }
    close(fds[1]);

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t used = 0;
    CPacParser_Outcome outcome = CPacParser_OK;
    // Bounded by timeout_ms: every poll waits at most 20 ms, and the loop ends at the deadline.
    for (;;) {
        if (cancelled != NULL && cancelled(context)) {
            outcome = CPacParser_CANCELLED;
            break;
        }
        long remaining = (long)timeout_ms - elapsed_ms(&start);
        if (remaining <= 0) {
            outcome = CPacParser_TIMED_OUT;
            break;
        }
        struct pollfd wait = {fds[0], POLLIN, 0};
        int ready = poll(&wait, 1, remaining < 20 ? (int)remaining : 20);
        if (ready < 0 && errno != EINTR) {
            snprintf(error, error_size, "poll: %s", strerror(errno));
            outcome = CPacParser_SYSTEM_ERROR;
            break;
        }
        if (ready <= 0) continue;
        ssize_t count = read(fds[0], received + used, capacity - used);
        if (count < 0 && errno == EINTR) continue;
        if (count <= 0) break;
        used += (size_t)count;
        if (used == capacity) {
            outcome = CPacParser_TOO_LARGE;
            break;
        }
    }
    close(fds[0]);
    // Killing a child that has exited already is harmless: it stays a zombie until the wait below.
    kill(child, SIGKILL);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (outcome != CPacParser_OK) {
        free(received);
        return outcome;
    }
    if (used > 0 && received[0] == 'A' && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        memcpy(result, received + 1, used - 1);
        result[used - 1] = 0;
        free(received);
        return CPacParser_OK;
    }
    if (used > 0 && received[0] == 'E') {
        size_t length = used - 1 < error_size ? used - 1 : error_size - 1;
        memcpy(error, received + 1, length);
        error[length] = 0;
        free(received);
        return CPacParser_SCRIPT_ERROR;
    }
    free(received);
    if (WIFSIGNALED(status)) {
        snprintf(error, error_size, "stopped by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        return CPacParser_RESOURCE_LIMIT;
    }
    snprintf(error, error_size, "the evaluation ended without an answer (exit status %d)",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return CPacParser_SCRIPT_ERROR;
}
