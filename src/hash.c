/*
 * hash.c: the byte-string hash used by vocabulary tables and section checksums.
 *
 * Both run FNV-1a's 64-bit recurrence (Fowler, Noll, Vo) over little-endian
 * 64-bit words, one multiply per 8 bytes. The term hash adds the length and
 * MurmurHash3's fmix64 finaliser so that its low bits can index a table.
 * Both values are stored in model files ("term_hash", "checksum_algorithm"),
 * so neither function may change without a new format version. From format
 * version 3 on, sections are checksummed with XXH3 instead (aitag__checksum_for). Words are
 * read in the host's order: the model format is little-endian throughout.
 */
#include <string.h>

#include <xxhash.h>

#include "internal.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

uint64_t aitag__hash_bytes(const void *data, size_t len)
{
    /* FNV-1a's recurrence over little-endian 64-bit words (the tail zero-padded),
     * plus the length, then fmix64: one multiply per 8 bytes instead of per byte. */
    const unsigned char *p = data;
    uint64_t h = FNV_OFFSET ^ ((uint64_t)len * 0x9E3779B97F4A7C15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * FNV_PRIME;
        h ^= h >> 32;
        p += 8;
        len -= 8;
    }
    if (len) {
        /* the tail's bytes as one zero-padded little-endian word, without a
         * byte loop or reading past the end: two overlapping 4-byte loads
         * for 4..7 bytes, three single bytes (first, middle, last) for 1..3 */
        uint64_t w;
        if (len >= 4) {
            uint32_t lo, hi;
            memcpy(&lo, p, 4);
            memcpy(&hi, p + len - 4, 4);
            w = (uint64_t)lo | (uint64_t)hi << (8 * (len - 4));
        } else {
            w = (uint64_t)p[0] | (uint64_t)p[len / 2] << (8 * (len / 2)) | (uint64_t)p[len - 1] << (8 * (len - 1));
        }
        h = (h ^ w) * FNV_PRIME;
        h ^= h >> 32;
    }
    /* final avalanche (MurmurHash3's fmix64) so low bits are usable as a table index */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t aitag__checksum(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = FNV_OFFSET ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8); /* one load; the format is little-endian */
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

/* XXH3 from libxxhash runs at memory speed (about 3.6x this file's FNV loop
 * here), which is most of what a large model's load costs. */
uint64_t aitag__checksum_for(uint32_t version, const void *data, size_t len)
{
    return version >= 3 ? (uint64_t)XXH3_64bits(data, len) : aitag__checksum(data, len);
}

const char *aitag__checksum_name(uint32_t version) { return version >= 3 ? "xxh3-64" : "fnv1a64"; }
