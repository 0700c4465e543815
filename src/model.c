/*
 * model.c: model accessors, term lookup, and the decision rule
 * (margins -> tags and probabilities).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "model_internal.h"

/* The accessors accept NULL (0 or NULL back), like the free functions. */
size_t aitag_model_num_labels(const aitag_model *m) { return m ? m->n_labels : 0; }
size_t aitag_model_num_features(const aitag_model *m) { return m ? m->n_features : 0; }
int aitag_model_is_single_label(const aitag_model *m) { return m ? m->single_label : 0; }
const char *aitag_model_header(const aitag_model *m) { return m ? m->header : NULL; }
const aitag_tokenizer_params *aitag_model_tokenizer_params(const aitag_model *m) { return m ? &m->tok : NULL; }

const char *aitag_model_label(const aitag_model *m, size_t k) { return m && k < m->n_labels ? m->labels[k] : NULL; }

int64_t aitag_model_label_index(const aitag_model *m, const char *name)
{
    if (!m || !name)
        return -1;
    for (uint32_t k = 0; k < m->n_labels; k++)
        if (strcmp(m->labels[k], name) == 0)
            return k;
    return -1;
}

const char *aitag_model_term(const aitag_model *m, uint32_t id, size_t *len)
{
    if (!m || !m->terms || id >= m->n_features)
        return NULL;
    if (len)
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

/* Sift-down for sort_ranked: a max-heap whose top is the label that ranks last. */
static void sift_down(const double *mg, uint32_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n)
            return;
        if (c + 1 < n && ranks_before(mg, a[c], a[c + 1]))
            c++;
        if (!ranks_before(mg, a[root], a[c]))
            return;
        uint32_t t = a[root];
        a[root] = a[c];
        a[c] = t;
        root = c;
    }
}

/* Sorts labels into rank order (heapsort: O(n log n) in the worst case, no
 * allocation; the order is total, so the result does not depend on the sort). */
static void sort_ranked(const double *mg, uint32_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(mg, a, i, n);
    for (size_t end = n; end > 1; end--) {
        uint32_t t = a[0];
        a[0] = a[end - 1];
        a[end - 1] = t;
        sift_down(mg, a, 0, end - 1);
    }
}

/* 1 if label k passes on its own: over its threshold, or the single-label winner. */
static int passes(const aitag_model *m, const double *margins, uint32_t k, uint32_t best)
{
    return m->single_label ? k == best : margins[k] > m->threshold[k];
}

size_t aitag_decide(const aitag_model *m, const double *margins, const aitag_decide_opts *o, uint32_t *tags,
                    double *probs)
{
    if (!m || !margins || !tags)
        return 0;
    const uint32_t K = m->n_labels;
    if (probs)
        for (uint32_t k = 0; k < K; k++)
            probs[k] = 1.0 / (1.0 + exp(m->platt_a[k] * margins[k] + m->platt_b[k]));
    uint32_t best = 0;
    if (m->single_label)
        for (uint32_t k = 1; k < K; k++)
            if (ranks_before(margins, k, best))
                best = k;
    size_t n = 0;
    for (uint32_t k = 0; k < K; k++)
        if (passes(m, margins, k, best))
            tags[n++] = k;
    size_t want = o && o->min_labels > n ? (o->min_labels < K ? o->min_labels : K) : n;
    if (want > n) {
        /* every label in rank order, then the passing ones and the best of the rest */
        for (uint32_t k = 0; k < K; k++)
            tags[k] = k;
        sort_ranked(margins, tags, K);
        size_t extra = want - n, kept = 0;
        for (uint32_t i = 0; i < K && kept < want; i++) {
            uint32_t k = tags[i];
            if (passes(m, margins, k, best))
                tags[kept++] = k;
            else if (extra > 0) {
                tags[kept++] = k;
                extra--;
            }
        }
        n = kept;
    } else {
        sort_ranked(margins, tags, n);
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
