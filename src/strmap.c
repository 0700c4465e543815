/* strmap.c: see strmap.h. */
#include <string.h>

#include "internal.h"
#include "strmap.h"

int aitag__strmap_init(aitag__strmap *m)
{
    memset(m, 0, sizeof *m);
    m->slots = aitag__calloc(1024, sizeof *m->slots);
    m->offs = aitag__malloc(sizeof *m->offs);
    if (!m->slots || !m->offs) {
        aitag__free(m->slots);
        aitag__free(m->offs);
        memset(m, 0, sizeof *m);
        return -1;
    }
    m->mask = 1023;
    m->offs[0] = 0;
    return 0;
}

void aitag__strmap_free(aitag__strmap *m)
{
    if (!m)
        return;
    aitag__free(m->slots);
    aitag__free(m->bytes);
    aitag__free(m->offs);
    aitag__free(m->hashes);
    memset(m, 0, sizeof *m);
}

static size_t probe(const aitag__strmap *m, const char *s, size_t len, uint64_t h)
{
    size_t i = (size_t)h & m->mask;
    for (;;) {
        uint32_t v = m->slots[i];
        if (v == 0)
            return i;
        uint32_t id = v - 1;
        if (m->hashes[id] == h && m->offs[id + 1] - m->offs[id] == len &&
            memcmp(m->bytes + m->offs[id], s, len) == 0)
            return i;
        i = (i + 1) & m->mask;
    }
}

int64_t aitag__strmap_find(const aitag__strmap *m, const char *s, size_t len)
{
    uint64_t h = aitag__hash_bytes(s, len);
    uint32_t v = m->slots[probe(m, s, len, h)];
    return v ? (int64_t)(v - 1) : -1;
}

static int rehash(aitag__strmap *m)
{
    size_t nslots = (m->mask + 1) * 2;
    uint32_t *slots = aitag__calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    aitag__free(m->slots);
    m->slots = slots;
    m->mask = nslots - 1;
    for (size_t id = 0; id < m->n; id++) {
        size_t i = (size_t)m->hashes[id] & m->mask;
        while (m->slots[i])
            i = (i + 1) & m->mask;
        m->slots[i] = (uint32_t)id + 1;
    }
    return 0;
}

int aitag__strmap_intern(aitag__strmap *m, const char *s, size_t len, uint32_t *id, int *added)
{
    uint64_t h = aitag__hash_bytes(s, len);
    size_t i = probe(m, s, len, h);
    if (m->slots[i]) {
        *id = m->slots[i] - 1;
        if (added)
            *added = 0;
        return 0;
    }
    if (m->n >= UINT32_MAX - 1)
        return -1;
    if (aitag__grow(&m->bytes, &m->bytes_cap, m->bytes_len + len, 1) != 0)
        return -1;
    if (m->n + 2 > m->cap) {
        size_t cap = m->cap, cap2 = m->cap;
        if (aitag__grow(&m->hashes, &cap, m->n + 2, sizeof *m->hashes) != 0)
            return -1;
        if (aitag__grow(&m->offs, &cap2, m->n + 2, sizeof *m->offs) != 0)
            return -1;
        m->cap = cap < cap2 ? cap : cap2;
    }
    memcpy(m->bytes + m->bytes_len, s, len);
    m->bytes_len += len;
    m->hashes[m->n] = h;
    m->offs[m->n + 1] = m->bytes_len;
    m->slots[i] = (uint32_t)m->n + 1;
    *id = (uint32_t)m->n;
    m->n++;
    if (added)
        *added = 1;
    if (m->n * 2 > m->mask + 1 && rehash(m) != 0) {
        /* keep the map usable: undo the insertion */
        m->n--;
        m->bytes_len -= len;
        m->slots[i] = 0;
        return -1;
    }
    return 0;
}

void aitag__strmap_truncate(aitag__strmap *m, size_t n)
{
    while (m->n > n) {
        uint32_t id = (uint32_t)(m->n - 1);
        size_t i = (size_t)m->hashes[id] & m->mask;
        while (m->slots[i] != id + 1)
            i = (i + 1) & m->mask;
        m->slots[i] = 0;
        m->bytes_len = m->offs[id];
        m->n--;
    }
}
