// splice(2) is declared only under _GNU_SOURCE, which must come before any header; the rest of the shim is
// built without it.
#define _GNU_SOURCE
#include <fcntl.h>
#include "CCurl.h"

ssize_t CCurl_splice_nonblocking(int input, int output, size_t count) {
    return splice(input, NULL, output, NULL, count, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}
