/*
 * hash.c: the byte-string hash used by vocabulary tables and section checksums.
 *
 * FNV-1a, 64-bit (Fowler, Noll, Vo), over bytes for hashing short terms; the
 * checksum runs the same recurrence over little-endian 64-bit words, which is
 * about eight times faster on large sections. Both values are stored in model
 * files, so neither function may ever change.
 */
#include <string.h>

#include "internal.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

uint64_t aitag__hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    /* final avalanche (from MurmurHash3's fmix64) so low bits are usable as a table index */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

uint64_t aitag__checksum(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = FNV_OFFSET ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = 0;
        for (int b = 0; b < 8; b++)
            w |= (uint64_t)p[i + b] << (8 * b);
        h ^= w;
        h *= FNV_PRIME;
        h ^= h >> 29;
    }
    for (; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}
