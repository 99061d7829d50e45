#include "CZlib.h"

#include <stdbool.h>
#include <string.h>

size_t CZlib_gzipBound(size_t sourceLength) {
    // deflateBound without a stream assumes the 6-byte zlib wrapper; gzip's header and trailer take 18.
    return (size_t)deflateBound(NULL, (uLong)sourceLength) + 18;
}

int CZlib_deflateMember(z_streamp strm, int maxChain, CZlib_DeflateMemo *memo, const unsigned char *const *parts,
                        const size_t *partLengths, size_t count, unsigned char *out, size_t outCapacity,
                        size_t *written) {
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += partLengths[i];
    }
    unsigned char joined[CZLIB_MEMO_INPUT_MAX];
    bool memoized = memo != NULL && total > 0 && total <= CZLIB_MEMO_INPUT_MAX;
    if (memoized) {
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
            memcpy(joined + at, parts[i], partLengths[i]);
            at += partLengths[i];
        }
        for (size_t e = 0; e < CZLIB_MEMO_ENTRIES; e++) {
            const CZlib_DeflateMemoEntry *entry = &memo->entries[e];
            if (entry->inputLength == total && memcmp(entry->input, joined, total) == 0 &&
                entry->outputLength <= outCapacity) {
                memcpy(out, entry->output, entry->outputLength);
                *written = entry->outputLength;
                memo->hits++;
                return Z_OK;
            }
        }
    }
    int rc = deflateReset(strm);
    if (rc != Z_OK) {
        return rc;
    }
    // After the reset, which restores the level's parameters: good_length, max_lazy and nice_length stay level
    // 9's (32, 258, 258).
    if (maxChain > 0) {
        rc = deflateTune(strm, 32, 258, 258, maxChain);
        if (rc != Z_OK) {
            return rc;
        }
    }
    strm->next_out = out;
    strm->avail_out = (uInt)outCapacity;
    if ((size_t)strm->avail_out != outCapacity) {
        return Z_BUF_ERROR;
    }
    for (size_t i = 0; i < count; i++) {
        strm->next_in = (z_const Bytef *)parts[i];
        strm->avail_in = (uInt)partLengths[i];
        if ((size_t)strm->avail_in != partLengths[i]) {
            return Z_BUF_ERROR;
        }
        int flush = (i + 1 == count) ? Z_FINISH : Z_NO_FLUSH;
        rc = deflate(strm, flush);
        if (flush == Z_FINISH ? rc != Z_STREAM_END : rc != Z_OK && rc != Z_BUF_ERROR) {
            return rc == Z_OK ? Z_BUF_ERROR : rc;
        }
        if (strm->avail_in != 0) {
            return Z_BUF_ERROR;
        }
    }
    if (count == 0) {
        strm->next_in = NULL;
        strm->avail_in = 0;
        if (deflate(strm, Z_FINISH) != Z_STREAM_END) {
            return Z_BUF_ERROR;
        }
    }
    *written = outCapacity - strm->avail_out;
    if (memoized && *written <= CZLIB_MEMO_OUTPUT_MAX) {
        CZlib_DeflateMemoEntry *entry = &memo->entries[memo->next];
        memo->next = (memo->next + 1) % CZLIB_MEMO_ENTRIES;
        memcpy(entry->input, joined, total);
        entry->inputLength = total;
        memcpy(entry->output, out, *written);
        entry->outputLength = *written;
    }
    return Z_OK;
}
