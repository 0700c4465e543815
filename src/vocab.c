/*
 * vocab.c: document frequencies -> the feature space, and documents -> TF-IDF rows.
 *
 * Weighting ("tfidf-sublinear-smooth-l2" in the model header):
 *   tf(t,d)  = 1 + ln(count(t,d))
 *   idf(t)   = ln((1 + N) / (1 + df(t))) + 1          N = training documents
 *   x(t,d)   = tf * idf, then x is scaled to unit L2 norm.
 * This is scikit-learn's TfidfVectorizer(sublinear_tf=True, smooth_idf=True).
 * The same formula is applied at classification time (classify.c) through
 * aitag__tfidf and aitag__idf in model_internal.h.
 *
 * Pruning: terms in fewer than min_df documents or in more than max_df * N
 * are dropped; with max_features, the most frequent terms are kept (ties
 * broken by term order). Feature ids follow byte order of the terms, so the
 * same corpus and settings give the same model, byte for byte.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "internal.h"
#include "learn.h"
#include "model_internal.h"

typedef struct {
    const char *s;
    uint32_t len, df;
    uint32_t prov;
} cand;

static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static int by_term(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    return cmp_bytes(a->s, a->len, b->s, b->len);
}

static int by_df_then_term(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->df != b->df)
        return a->df > b->df ? -1 : 1;
    return by_term(x, y);
}

void aitag__vocab_free(aitag__vocab *v)
{
    if (!v)
        return;
    aitag__free(v->map);
    aitag__free(v->terms);
    aitag__free(v->term_off);
    aitag__free(v->idf);
    memset(v, 0, sizeof *v);
}

aitag_status aitag__vocab_build(const aitag_dataset *d, const aitag_train_params *p, aitag__vocab *v,
                                aitag_error *err)
{
    memset(v, 0, sizeof *v);
    const size_t N = d->n_docs;
    double max_df = p->max_df * (double)N;
    size_t n_prov = d->hash_bits ? ((size_t)1 << d->hash_bits) : d->terms.n;
    v->n_prov = n_prov;
    v->map = aitag__malloc((n_prov ? n_prov : 1) * sizeof *v->map);
    if (!v->map)
        goto oom;

    if (d->hash_bits) {
        /* hashing: the feature space is fixed; pruned buckets keep a zero column */
        v->n = (uint32_t)n_prov;
        v->idf = aitag__malloc(n_prov * sizeof *v->idf);
        if (!v->idf)
            goto oom;
        for (size_t i = 0; i < n_prov; i++) {
            uint32_t df = d->df[i];
            int keep = df >= p->min_df && df > 0 && (double)df <= max_df;
            v->map[i] = keep ? (int32_t)i : -1;
            v->idf[i] = keep ? aitag__idf(N, df) : 0.0f;
        }
        return AITAG_OK;
    }

    cand *c = aitag__malloc((n_prov ? n_prov : 1) * sizeof *c);
    if (!c)
        goto oom;
    size_t nc = 0, bytes = 0;
    for (size_t i = 0; i < n_prov; i++) {
        v->map[i] = -1;
        uint32_t df = i < d->term_cap ? d->df[i] : 0;
        if (df < p->min_df || df == 0 || (double)df > max_df)
            continue;
        size_t len;
        const char *s = aitag__strmap_str(&d->terms, (uint32_t)i, &len);
        c[nc++] = (cand){s, (uint32_t)len, df, (uint32_t)i};
    }
    if (p->max_features && nc > p->max_features) {
        qsort(c, nc, sizeof *c, by_df_then_term);
        nc = p->max_features;
    }
    qsort(c, nc, sizeof *c, by_term);
    if (nc >= INT32_MAX)
        nc = INT32_MAX - 1;
    for (size_t i = 0; i < nc; i++)
        bytes += c[i].len;
    if (bytes >= UINT32_MAX) {
        aitag__free(c);
        aitag__vocab_free(v);
        return aitag__fail(err, AITAG_LIMIT, "vocabulary too large (%zu bytes of terms); use --max-features or --hash-bits", bytes);
    }
    v->n = (uint32_t)nc;
    v->terms = aitag__malloc(bytes ? bytes : 1);
    v->term_off = aitag__malloc((nc + 1) * sizeof *v->term_off);
    v->idf = aitag__malloc((nc ? nc : 1) * sizeof *v->idf);
    if (!v->terms || !v->term_off || !v->idf) {
        aitag__free(c);
        goto oom;
    }
    size_t off = 0;
    for (size_t i = 0; i < nc; i++) {
        v->term_off[i] = (uint32_t)off;
        memcpy(v->terms + off, c[i].s, c[i].len);
        off += c[i].len;
        v->map[c[i].prov] = (int32_t)i;
        v->idf[i] = aitag__idf(N, c[i].df);
    }
    v->term_off[nc] = (uint32_t)off;
    aitag__free(c);
    return AITAG_OK;
oom:
    aitag__vocab_free(v);
    return aitag__fail(err, AITAG_NOMEM, "out of memory building the vocabulary");
}

void aitag__rows_free(aitag__rows *r)
{
    if (!r)
        return;
    aitag__free(r->start);
    aitag__free(r->col);
    aitag__free(r->val);
    memset(r, 0, sizeof *r);
}

typedef struct {
    uint32_t col;
    double val;
} entry;

static int by_col(const void *x, const void *y)
{
    const entry *a = x, *b = y;
    return (a->col > b->col) - (a->col < b->col);
}

/* Rows of (term id, count) -> L2-normalised TF-IDF rows of features. */
static aitag_status build_rows(size_t n_rows, const size_t *start, const uint32_t *tid, const uint32_t *tcnt,
                               const aitag__vocab *v, aitag__rows *r, aitag_error *err)
{
    memset(r, 0, sizeof *r);
    size_t nnz = 0, longest = 0;
    for (size_t i = 0; i < n_rows; i++) {
        size_t len = start[i + 1] - start[i];
        if (len > longest)
            longest = len;
        for (size_t j = start[i]; j < start[i + 1]; j++)
            nnz += v->map[tid[j]] >= 0;
    }
    r->n_docs = n_rows;
    r->n_features = v->n;
    r->start = aitag__malloc((n_rows + 1) * sizeof *r->start);
    r->col = aitag__malloc((nnz ? nnz : 1) * sizeof *r->col);
    r->val = aitag__malloc((nnz ? nnz : 1) * sizeof *r->val);
    entry *tmp = aitag__malloc((longest ? longest : 1) * sizeof *tmp);
    if (!r->start || !r->col || !r->val || !tmp) {
        aitag__free(tmp);
        aitag__rows_free(r);
        return aitag__fail(err, AITAG_NOMEM, "out of memory building feature vectors");
    }
    size_t at = 0;
    for (size_t i = 0; i < n_rows; i++) {
        size_t n = 0;
        double norm = 0;
        for (size_t j = start[i]; j < start[i + 1]; j++) {
            int32_t f = v->map[tid[j]];
            if (f < 0)
                continue;
            double x = aitag__tfidf(tcnt[j], v->idf[f]);
            tmp[n++] = (entry){(uint32_t)f, x};
            norm += x * x;
        }
        qsort(tmp, n, sizeof *tmp, by_col);
        norm = norm > 0 ? 1.0 / sqrt(norm) : 0.0;
        r->start[i] = at;
        for (size_t j = 0; j < n; j++) {
            r->col[at] = tmp[j].col;
            /* stored at the precision classification uses */
            r->val[at] = (double)(float)(tmp[j].val * norm);
            at++;
        }
    }
    r->start[n_rows] = at;
    aitag__free(tmp);
    return AITAG_OK;
}

aitag_status aitag__rows_build(const aitag_dataset *d, const aitag__vocab *v, aitag__rows *r, aitag_error *err)
{
    return build_rows(d->n_docs, d->doc_start, d->tid, d->tcnt, v, r, err);
}

aitag_status aitag__passage_rows_build(const aitag_dataset *d, const aitag__vocab *v, aitag__rows *r,
                                       aitag_error *err)
{
    static const size_t zero = 0;
    return build_rows(d->n_pass, d->pstart ? d->pstart : &zero, d->ptid, d->pcnt, v, r, err);
}
