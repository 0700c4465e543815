/*
 * internal.h: helpers shared by the library's .c files; never installed.
 */
#ifndef AITAG_INTERNAL_H
#define AITAG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aitag/status.h"

#if defined(__GNUC__)
#define AITAG__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define AITAG__PRINTF(a, b)
#endif

/* Fills err (if not NULL) with code and a formatted message; returns code. */
aitag_status aitag__fail(aitag_error *err, aitag_status code, const char *fmt, ...) AITAG__PRINTF(3, 4);

/* Allocation wrappers: every allocation of the library goes through these so
 * that tests can make the N-th one fail (see aitag__set_alloc_fail_after). */
void *aitag__malloc(size_t n);
void *aitag__calloc(size_t n, size_t size);
void *aitag__realloc(void *p, size_t n);
void  aitag__free(void *p);
char *aitag__strndup(const char *s, size_t n);

/* A large zero-filled block (a model image, a classifier's counts), mapped
 * with huge pages where possible; *mapped is what aitag__big_free needs. */
void *aitag__big_alloc(size_t n, size_t *mapped);
void  aitag__big_free(void *p, size_t mapped);

/* Test hook: after n more successful allocations, every allocation fails.
 * n < 0 switches failure injection off. Not thread-safe; tests only. */
void aitag__set_alloc_fail_after(long n);

/* Grows *buf (capacity *cap elements of size elem) to hold at least need
 * elements. Returns 0 or -1 on overflow/out of memory (buffer unchanged). */
int aitag__grow(void *buf, size_t *cap, size_t need, size_t elem);

/* 64-bit hash of a byte string (used by the vocabulary table; value is part of
 * the model format, so it must never change). */
uint64_t aitag__hash_bytes(const void *data, size_t len);

/* Checksum of the header and sections of a format-1 or -2 model ("fnv1a64"). */
uint64_t aitag__checksum(const void *data, size_t len);

/* The checksum a model of format `version` uses: fnv1a64 up to version 2,
 * XXH3-64 (xxHash, seed 0, named "xxh3-64") from version 3 on. */
uint64_t aitag__checksum_for(uint32_t version, const void *data, size_t len);
const char *aitag__checksum_name(uint32_t version);

/* A label index with its margin; aitag__by_margin orders them best first
 * (ties by index), the order in which tags are reported. */
typedef struct aitag__ranked {
    double s;
    uint32_t k;
} aitag__ranked;
int aitag__by_margin(const void *a, const void *b);

/* splitmix64: the library's one pseudo-random step (fold shuffles, the dual
 * solver's visiting order); deterministic from the caller's state. */
static inline uint64_t aitag__splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#endif
