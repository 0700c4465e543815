/*
 * strmap.h: byte string -> dense uint32 id, open addressing with linear probing.
 *
 * Ids are given in insertion order (0, 1, 2...). The strings live in one
 * growing byte buffer owned by the map. Used for the training vocabulary and
 * for label names. Not thread-safe.
 */
#ifndef AITAG_STRMAP_H
#define AITAG_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct aitag__strmap {
    uint32_t *slots;     /* id + 1; 0 = empty */
    size_t mask;         /* slots - 1 (power of two) */
    char *bytes;         /* all strings, back to back */
    size_t bytes_len, bytes_cap;
    size_t *offs;        /* offs[id] = start of id's string; offs[n] = bytes_len */
    uint64_t *hashes;    /* hash of each id's string, for rehashing */
    size_t n, cap;       /* ids used, capacity of offs/hashes */
} aitag__strmap;

/* 0 or -1 (out of memory). */
int  aitag__strmap_init(aitag__strmap *m);
void aitag__strmap_free(aitag__strmap *m);

/* Id of s[0..len) or -1 if absent. */
int64_t aitag__strmap_find(const aitag__strmap *m, const char *s, size_t len);

/* Finds or adds s[0..len); *id receives its id; *added (may be NULL) is set to
 * 1 when it was new. Returns 0 or -1 (out of memory; the map is unchanged). */
int aitag__strmap_intern(aitag__strmap *m, const char *s, size_t len, uint32_t *id, int *added);

/* Forgets the ids >= n (the most recently added), e.g. to undo a failed
 * batch of insertions. Safe with linear probing because later insertions
 * are removed first. */
void aitag__strmap_truncate(aitag__strmap *m, size_t n);

/* The string of id (not NUL-terminated) and its length. */
static inline const char *aitag__strmap_str(const aitag__strmap *m, uint32_t id, size_t *len)
{
    *len = m->offs[id + 1] - m->offs[id];
    return m->bytes + m->offs[id];
}

#endif
