#include "CPacParser.h"

#include <pacparser.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// The one lock around every pacparser call: its JavaScript context and error printer are globals.
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
// Written only while `lock` is held.
static char *capture_buffer;
static size_t capture_size;

static int capture_error(const char *format, va_list arguments) {
    if (capture_buffer == NULL || capture_size == 0) return 0;
    size_t used = strlen(capture_buffer);
    if (used + 1 >= capture_size) return 0;
    return vsnprintf(capture_buffer + used, capture_size - used, format, arguments);
}

int CPacParser_find_proxy(const char *pac, const char *url, const char *host,
                          char *result, size_t result_size, char *error, size_t error_size) {
    if (result_size > 0) result[0] = 0;
    if (error_size > 0) error[0] = 0;
    pthread_mutex_lock(&lock);
    capture_buffer = error;
    capture_size = error_size;
    pacparser_set_error_printer(capture_error);
    int ok = 0;
    if (!pacparser_init()) {
        if (error_size > 0) snprintf(error, error_size, "pacparser_init failed");
    } else {
        if (pacparser_parse_pac_string(pac)) {
            const char *answer = pacparser_find_proxy(url, host);
            // The answer lives in the JavaScript context: copy it before the cleanup frees it.
            if (answer != NULL && result_size > 0) {
                snprintf(result, result_size, "%s", answer);
                ok = 1;
            }
        }
        pacparser_cleanup();
    }
    capture_buffer = NULL;
    capture_size = 0;
    pthread_mutex_unlock(&lock);
    return ok;
}
