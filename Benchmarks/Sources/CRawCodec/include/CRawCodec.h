#pragma once
// The raw C baseline of the codec benchmarks: one frame is gzip level 9 (zlib deflate, gzip wrapper) then
// AES-256-GCM (OpenSSL EVP) with the 4 length bytes as additional data and nonce `iv XOR counter`, exactly the
// calls TTProtocol makes (docs/PROTOCOL.md section 2), in a plain C loop without any framework around it.
#include <stddef.h>
#include <stdint.h>

/// Fills `out` with `count` bytes of record-like text (tape volume records: words, numbers, spaces and
/// newlines) from a fixed linear congruential generator, so Swift and C compress exactly the same bytes.
void CRawCodec_recordLike(uint8_t *out, size_t count, uint32_t seed);

/// One direction pair of keys plus a level-9 deflate stream and an inflate stream, set up once.
typedef struct CRawCodec CRawCodec;

/// NULL when a zlib stream or cipher context cannot be created.
CRawCodec *CRawCodec_create(const uint8_t sendKey[32], const uint8_t sendIV[12], const uint8_t receiveKey[32],
                            const uint8_t receiveIV[12]);
void CRawCodec_destroy(CRawCodec *codec);

/// Encodes `packet` as frame number `counter` into a newly malloc'd buffer (`*frame`, release it with
/// `CRawCodec_freeFrame`);
/// returns the frame length, 0 on failure.
size_t CRawCodec_encodeFrame(CRawCodec *codec, const uint8_t *packet, size_t length, uint64_t counter,
                             uint8_t **frame);

void CRawCodec_freeFrame(uint8_t *frame);

/// Encodes `packet` `count` times (frames `firstCounter`, `firstCounter + 1`, ...), allocating and freeing each
/// frame as a sender that writes it out would. Returns the total frame bytes, 0 on failure.
size_t CRawCodec_encodeLoop(CRawCodec *codec, const uint8_t *packet, size_t length, uint64_t firstCounter,
                            size_t count);

/// Decodes `count` whole frames (numbers `firstCounter`, ...): authenticate and decrypt into a new buffer,
/// inflate into a buffer sized by the gzip trailer, copy the packet payload (after `headerSize` bytes) out, as
/// a receiver handing the payload to its caller would. Returns the total payload bytes, or -1 when a frame
/// fails to authenticate or inflate.
long long CRawCodec_decodeLoop(CRawCodec *codec, const uint8_t *const *frames, const size_t *frameLengths,
                               uint64_t firstCounter, size_t count, size_t headerSize);
