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

/// Deflates `parts` (`count` buffers, in order) into `out` as one complete gzip member. `strm` must come from
/// `CZlib_deflateInit2` at level 9 with a gzip window; it is reset first. `maxChain` > 0 caps the hash chains
/// searched per position (`deflateTune`, level 9's other parameters kept); 0 keeps level 9's 4096. `outCapacity`
/// must be at least `CZlib_gzipBound` of the total input. Returns Z_OK and the member length in `*written`, or a
/// zlib error.
int CZlib_deflateMember(z_streamp strm, int maxChain, const unsigned char *const *parts, const size_t *partLengths,
                        size_t count, unsigned char *out, size_t outCapacity, size_t *written);
