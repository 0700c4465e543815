/*
 * model.c: model accessors, term lookup, and the decision rule
 * (margins -> tags and probabilities).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "model_internal.h"

size_t aitag_model_num_labels(const aitag_model *m) { return m->n_labels; }
size_t aitag_model_num_features(const aitag_model *m) { return m->n_features; }
int aitag_model_is_single_label(const aitag_model *m) { return m->single_label; }
const char *aitag_model_header(const aitag_model *m) { return m->header; }
const aitag_tokenizer_params *aitag_model_tokenizer_params(const aitag_model *m) { return &m->tok; }

const char *aitag_model_label(const aitag_model *m, size_t k) { return k < m->n_labels ? m->labels[k] : NULL; }

int64_t aitag_model_label_index(const aitag_model *m, const char *name)
{
    for (uint32_t k = 0; k < m->n_labels; k++)
        if (strcmp(m->labels[k], name) == 0)
            return k;
    return -1;
}

const char *aitag_model_term(const aitag_model *m, uint32_t id, size_t *len)
{
    if (!m->terms || id >= m->n_features)
        return NULL;
    *len = m->term_off[id + 1] - m->term_off[id];
    return m->terms + m->term_off[id];
}

int64_t aitag__model_lookup(const aitag_model *m, const char *term, size_t len)
{
    return aitag__model_lookup_hash(m, aitag__hash_bytes(term, len));
}

const void *aitag__model_probe_addr(const aitag_model *m, uint64_t h)
{
    if (m->hash_bits)
        return m->idf + (h & (m->n_features - 1));
    return m->table + 2 * (size_t)((uint32_t)h & (m->table_size - 1));
}

int64_t aitag__model_lookup_hash(const aitag_model *m, uint64_t h)
{
    if (m->hash_bits) {
        uint32_t id = (uint32_t)(h & (m->n_features - 1));
        return m->idf[id] > 0 ? (int64_t)id : -1;
    }
    uint32_t mask = m->table_size - 1;
    uint32_t i = (uint32_t)h & mask;
    /* the loader guarantees an empty slot, so this ends */
    const uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        const uint32_t *slot = m->table + 2 * (size_t)i;
        if (slot[0] == 0)
            return -1;
        /* The slot's bucket fixes the hash's low bits and the tag its upper 32, so
         * a match agrees on at least 32 + log2(table size) >= 36 bits of a 64-bit
         * hash. Reading the term itself to confirm would cost two more cache
         * misses per known term (about a third of classification time), for an
         * error rate below one in 2^36 unknown terms, which then count as one
         * more known term; the lookup trusts the hash, as hashed vocabularies do. */
        if (slot[1] == tag)
            return slot[0] - 1;
        i = (i + 1) & mask;
    }
}

aitag_decide_opts aitag_decide_opts_default(void)
{
    aitag_decide_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

int aitag__by_margin(const void *a, const void *b)
{
    const aitag__ranked *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/* 1 if label a ranks before label b: higher margin, then lower index. */
static int ranks_before(const double *mg, uint32_t a, uint32_t b)
{
    return mg[a] > mg[b] || (mg[a] == mg[b] && a < b);
}

/* Inserts k into tags[0..n), kept in rank order; returns the new length. */
static size_t insert_ranked(const double *mg, uint32_t *tags, size_t n, uint32_t k)
{
    size_t j = n;
    while (j > 0 && ranks_before(mg, k, tags[j - 1])) {
        tags[j] = tags[j - 1];
        j--;
    }
    tags[j] = k;
    return n + 1;
}

size_t aitag_decide(const aitag_model *m, const double *margins, const aitag_decide_opts *o, uint32_t *tags,
                    double *probs)
{
    const uint32_t K = m->n_labels;
    size_t n = 0;
    if (probs)
        for (uint32_t k = 0; k < K; k++)
            probs[k] = 1.0 / (1.0 + exp(m->platt_a[k] * margins[k] + m->platt_b[k]));
    if (m->single_label) {
        uint32_t best = 0;
        for (uint32_t k = 1; k < K; k++)
            if (ranks_before(margins, k, best))
                best = k;
        tags[n++] = best;
    } else {
        /* passing labels only: usually a handful, so no full sort */
        for (uint32_t k = 0; k < K; k++)
            if (margins[k] > m->threshold[k])
                n = insert_ranked(margins, tags, n, k);
    }
    size_t want = o && o->min_labels > n ? (o->min_labels < K ? o->min_labels : K) : n;
    while (n < want) {
        /* the best label not chosen yet (n is small, so the scan is cheap) */
        uint32_t best = UINT32_MAX;
        for (uint32_t k = 0; k < K; k++) {
            int taken = 0;
            for (size_t j = 0; j < n && !taken; j++)
                taken = tags[j] == k;
            if (!taken && (best == UINT32_MAX || ranks_before(margins, k, best)))
                best = k;
        }
        tags[n++] = best;
    }
    /* the filled labels may outrank passing ones: keep the list in margin order */
    for (size_t i = 1; i < n; i++) {
        uint32_t k = tags[i];
        size_t j = i;
        for (; j > 0 && ranks_before(margins, k, tags[j - 1]); j--)
            tags[j] = tags[j - 1];
        tags[j] = k;
    }
    if (o && o->top_k && n > o->top_k)
        n = o->top_k;
    return n;
}

const aitag_model_info *aitag_model_get_info(const aitag_model *m) { return m ? &m->meta.info : NULL; }

double aitag_model_threshold(const aitag_model *m, size_t k)
{
    return m && k < m->n_labels ? m->threshold[k] : NAN;
}

int aitag_model_calibration(const aitag_model *m, size_t k, double *a, double *b)
{
    if (!m || k >= m->n_labels)
        return -1;
    if (a)
        *a = m->platt_a[k];
    if (b)
        *b = m->platt_b[k];
    return 0;
}
