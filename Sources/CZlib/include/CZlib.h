#pragma once
// zlib for Swift: the stream API imports directly; the init functions are macros (they pass the
// library version and struct size), so they get typed static inline wrappers here.
#include <stddef.h>
#include <zlib.h>

/// `deflateInit2` as a function.
static inline int CZlib_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel,
                                     int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

/// `inflateInit2` as a function.
static inline int CZlib_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}

/// The largest gzip member (header and trailer included) that deflating `sourceLength` bytes can produce
/// with any level and the default memory level.
size_t CZlib_gzipBound(size_t sourceLength);

/// Largest input a `CZlib_DeflateMemo` keeps: a packet header (11 or 19 bytes) with room to spare.
#define CZLIB_MEMO_INPUT_MAX 32
/// Largest gzip member a `CZlib_DeflateMemo` keeps (32 bytes deflate to at most 55: 18 of gzip framing, a stored
/// block of 37).
#define CZLIB_MEMO_OUTPUT_MAX 64

/// Small inputs a `CZlib_DeflateMemo` keeps: a server's event loop answers Pings, Logins and empty Echoes, a
/// client in the same process as its server compresses both sides' packets on one thread.
#define CZLIB_MEMO_ENTRIES 4

/// One small input and the gzip member it became (`inputLength` 0: unused).
typedef struct {
    size_t inputLength;
    size_t outputLength;
    unsigned char input[CZLIB_MEMO_INPUT_MAX];
    unsigned char output[CZLIB_MEMO_OUTPUT_MAX];
} CZlib_DeflateMemoEntry;

/// The last few small inputs one deflate stream compressed, and the gzip members they became. A member depends
/// only on the input and the stream's parameters, so the same input again is copied instead of deflated:
/// deflating a Ping's 11 bytes at level 9 costs more than all the rest of its frame. The memo keeps its inputs
/// until newer ones replace them (oldest first), so callers use it only for inputs that hold no secret.
typedef struct {
    CZlib_DeflateMemoEntry entries[CZLIB_MEMO_ENTRIES];
    size_t next;         // the entry the next new input replaces
    unsigned long hits;  // inputs served from the memo
} CZlib_DeflateMemo;

/// Deflates `parts` (`count` buffers, in order) into `out` as one complete gzip member. `strm` must come from
/// `CZlib_deflateInit2` at level 9 with a gzip window; it is reset first. `maxChain` > 0 caps the hash chains
/// searched per position (`deflateTune`, level 9's other parameters kept); 0 keeps level 9's 4096. `outCapacity`
/// must be at least `CZlib_gzipBound` of the total input. With a `memo` (else NULL), an input of at most
/// `CZLIB_MEMO_INPUT_MAX` bytes equal to one of the memo's is copied from it, and a new one replaces the oldest
/// (such inputs always use level 9's chains: the memo does not record `maxChain`). Returns Z_OK and the member
/// length in `*written`, or a zlib error.
int CZlib_deflateMember(z_streamp strm, int maxChain, CZlib_DeflateMemo *memo, const unsigned char *const *parts,
                        const size_t *partLengths, size_t count, unsigned char *out, size_t outCapacity,
                        size_t *written);
