#include "CRawCodec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

void CRawCodec_recordLike(uint8_t *out, size_t count, uint32_t seed) {
    static const char *const words[] = {"VOLSER", "TAPE",     "SCRATCH", "LOCATION", "VAULT",
                                        "CUSTOMER", "ACME", "MOUNT",   "EXPIRY",   "RETAIN"};
    uint32_t state = seed;
    size_t at = 0;
    char token[16];
    while (at < count) {
        state = state * 1103515245u + 12345u;
        size_t length;
        if ((state >> 28) < 4) {
            length = (size_t)snprintf(token, sizeof token, "%u", (state >> 12) % 100000u);
        } else {
            const char *word = words[(state >> 16) % 10];
            length = strlen(word);
            memcpy(token, word, length);
        }
        token[length++] = (state >> 30) == 0 ? '\n' : ' ';
        size_t take = length < count - at ? length : count - at;
        memcpy(out + at, token, take);
        at += take;
    }
}

struct CRawCodec {
    z_stream deflater;
    z_stream inflater;
    EVP_CIPHER_CTX *sealer;
    EVP_CIPHER_CTX *opener;
    uint8_t sendIV[12];
    uint8_t receiveIV[12];
};

CRawCodec *CRawCodec_create(const uint8_t sendKey[32], const uint8_t sendIV[12], const uint8_t receiveKey[32],
                            const uint8_t receiveIV[12]) {
    CRawCodec *codec = calloc(1, sizeof(CRawCodec));
    if (codec == NULL) {
        return NULL;
    }
    memcpy(codec->sendIV, sendIV, 12);
    memcpy(codec->receiveIV, receiveIV, 12);
    codec->sealer = EVP_CIPHER_CTX_new();
    codec->opener = EVP_CIPHER_CTX_new();
    if (deflateInit2(&codec->deflater, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK
        || inflateInit2(&codec->inflater, 15 + 16) != Z_OK || codec->sealer == NULL || codec->opener == NULL
        || EVP_EncryptInit_ex(codec->sealer, EVP_aes_256_gcm(), NULL, sendKey, NULL) != 1
        || EVP_DecryptInit_ex(codec->opener, EVP_aes_256_gcm(), NULL, receiveKey, NULL) != 1) {
        CRawCodec_destroy(codec);
        return NULL;
    }
    return codec;
}

void CRawCodec_destroy(CRawCodec *codec) {
    if (codec == NULL) {
        return;
    }
    deflateEnd(&codec->deflater);
    inflateEnd(&codec->inflater);
    EVP_CIPHER_CTX_free(codec->sealer);
    EVP_CIPHER_CTX_free(codec->opener);
    free(codec);
}

static void nonce(const uint8_t iv[12], uint64_t counter, uint8_t out[12]) {
    memcpy(out, iv, 12);
    for (int i = 0; i < 8; i++) {
        out[4 + i] ^= (uint8_t)(counter >> (56 - 8 * i));
    }
}

size_t CRawCodec_encodeFrame(CRawCodec *codec, const uint8_t *packet, size_t length, uint64_t counter,
                             uint8_t **frame) {
    z_stream *d = &codec->deflater;
    size_t bound = deflateBound(d, length);
    uint8_t *out = malloc(4 + bound + 16);
    if (out == NULL || deflateReset(d) != Z_OK) {
        free(out);
        return 0;
    }
    d->next_in = (Bytef *)packet;
    d->avail_in = (uInt)length;
    d->next_out = out + 4;
    d->avail_out = (uInt)bound;
    if (deflate(d, Z_FINISH) != Z_STREAM_END) {
        free(out);
        return 0;
    }
    size_t compressed = bound - d->avail_out;
    uint32_t frameLength = (uint32_t)(compressed + 16);
    out[0] = (uint8_t)(frameLength >> 24);
    out[1] = (uint8_t)(frameLength >> 16);
    out[2] = (uint8_t)(frameLength >> 8);
    out[3] = (uint8_t)frameLength;
    uint8_t iv[12];
    nonce(codec->sendIV, counter, iv);
    int written = 0;
    if (EVP_EncryptInit_ex(codec->sealer, NULL, NULL, NULL, iv) != 1
        || EVP_EncryptUpdate(codec->sealer, NULL, &written, out, 4) != 1
        || EVP_EncryptUpdate(codec->sealer, out + 4, &written, out + 4, (int)compressed) != 1
        || EVP_EncryptFinal_ex(codec->sealer, out + 4 + written, &written) != 1
        || EVP_CIPHER_CTX_ctrl(codec->sealer, EVP_CTRL_GCM_GET_TAG, 16, out + 4 + compressed) != 1) {
        free(out);
        return 0;
    }
    *frame = out;
    return 4 + (size_t)frameLength;
}

void CRawCodec_freeFrame(uint8_t *frame) {
    free(frame);
}

size_t CRawCodec_encodeLoop(CRawCodec *codec, const uint8_t *packet, size_t length, uint64_t firstCounter,
                            size_t count) {
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t *frame = NULL;
        size_t frameLength = CRawCodec_encodeFrame(codec, packet, length, firstCounter + i, &frame);
        if (frameLength == 0) {
            return 0;
        }
        total += frameLength;
        free(frame);
    }
    return total;
}

/// Stands for the caller that receives a payload: the compiler must assume it reads the bytes, so the copy
/// before it is made. (Without it clang saw a buffer that is written and freed unread and dropped the malloc,
/// the memcpy and the free, and the C loop skipped the copy the Swift side makes.)
static inline void handOver(const uint8_t *bytes) {
    __asm__ volatile("" : : "r"(bytes) : "memory");
}

long long CRawCodec_decodeLoop(CRawCodec *codec, const uint8_t *const *frames, const size_t *frameLengths,
                               uint64_t firstCounter, size_t count, size_t headerSize) {
    long long total = 0;
    for (size_t n = 0; n < count; n++) {
        const uint8_t *frame = frames[n];
        size_t compressed = frameLengths[n] - 4 - 16;
        uint8_t *plaintext = malloc(compressed);
        uint8_t iv[12];
        nonce(codec->receiveIV, firstCounter + n, iv);
        int written = 0;
        int ok = plaintext != NULL && EVP_DecryptInit_ex(codec->opener, NULL, NULL, NULL, iv) == 1
            && EVP_DecryptUpdate(codec->opener, NULL, &written, frame, 4) == 1
            && EVP_DecryptUpdate(codec->opener, plaintext, &written, frame + 4, (int)compressed) == 1
            && EVP_CIPHER_CTX_ctrl(codec->opener, EVP_CTRL_GCM_SET_TAG, 16, (void *)(frame + 4 + compressed)) == 1
            && EVP_DecryptFinal_ex(codec->opener, plaintext + written, &written) == 1;
        if (!ok || compressed < 18) {
            free(plaintext);
            return -1;
        }
        const uint8_t *trailer = plaintext + compressed - 4;
        size_t inflated = (size_t)trailer[0] | (size_t)trailer[1] << 8 | (size_t)trailer[2] << 16
            | (size_t)trailer[3] << 24;
        uint8_t *packet = malloc(inflated + 1);
        z_stream *i = &codec->inflater;
        ok = packet != NULL && inflateReset(i) == Z_OK;
        if (ok) {
            i->next_in = plaintext;
            i->avail_in = (uInt)compressed;
            i->next_out = packet;
            i->avail_out = (uInt)inflated + 1;
            ok = inflate(i, Z_FINISH) == Z_STREAM_END && i->total_out == inflated && inflated >= headerSize;
        }
        free(plaintext);
        if (!ok) {
            free(packet);
            return -1;
        }
        size_t payloadLength = inflated - headerSize;
        uint8_t *payload = malloc(payloadLength + 1);
        if (payload == NULL) {
            free(packet);
            return -1;
        }
        memcpy(payload, packet + headerSize, payloadLength);
        handOver(payload);
        total += (long long)payloadLength;
        free(payload);
        free(packet);
    }
    return total;
}
