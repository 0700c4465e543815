/*
 * classify.c: the classification path, stage by stage.
 *
 *   aitag_featurize   text -> terms (tokenizer) -> feature ids (vocabulary
 *                     table or hashing) -> counts -> TF-IDF -> L2 norm
 *   aitag_score       sparse x -> margins, reading the K weights of each
 *                     feature together (the model is feature-major)
 *
 * A classifier holds all scratch: a dense count per feature plus the list of
 * features touched, so a document costs no allocation once the buffers have
 * grown to its size. Terms are counted in first-seen order, exactly as in
 * training (vocab.c), so a training document gets the same vector here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define AITAG__X86 1
#endif

#include "format.h"
#include "passage.h"
#include "internal.h"
#include "model_internal.h"

/* Terms are featurized in batches of up to BATCH hashes, in two passes that
 * each prefetch LOOKAHEAD terms ahead: the lookups (the table slot of term
 * i + LOOKAHEAD is fetched while term i is looked up), then the counts (the
 * count, idf and weight row of feature i + LOOKAHEAD are fetched while
 * feature i is counted). The cache misses of a document overlap instead of
 * coming one after another; features are still counted in first-seen order. */
#define BATCH 512
#define LOOKAHEAD 32

struct aitag_classifier {
    const aitag_model *m;
    aitag_tokenizer *tok;
    uint32_t *count;       /* n_features, zero between documents */
    uint32_t *touched;     /* feature ids of the current document */
    size_t n_touched, cap;
    float *vals;
    double *raw;           /* unnormalised TF-IDF of the touched features */
    size_t vals_cap, raw_cap;
    float *acc;            /* K accumulators (rounded up to 8) */
    /* adds x's weighted rows of a model of halves into acc */
    void (*score16)(const aitag_model *m, const aitag_features *x, float *acc);
    int oom;
    /* aitag_classify's result, K entries each */
    double *margins, *probs;
    uint32_t *tags;
    aitag_evidence *evidence;
    const char *last_text; /* the text of the last aitag_classify call */
    size_t last_len;
    /* passages: their spans, each label's best passage margin and where */
    aitag__spans spans;
    double *pmargins, *best;
    size_t *best_span;
    /* the current passage's counts, kept beside the document's while its
     * terms are counted (one tokenization serves both) */
    int in_passage;
    uint32_t *pcount, *ptouched;
    size_t pn, pcap;
    float *pvals;
    size_t pvals_cap;
    /* the batch of term hashes waiting to be looked up, and their ids */
    uint64_t hb[BATCH];
    int32_t idb[BATCH];
    size_t nh;
};

/* Rows of halves, converted one at a time (any CPU). */
static void score16_scalar(const aitag_model *m, const aitag_features *x, float *acc)
{
    const uint32_t K = m->n_labels;
    for (size_t i = 0; i < x->n; i++) {
        const uint16_t *w = m->weights16 + (size_t)x->ids[i] * K;
        const float v = x->vals[i];
        for (uint32_t k = 0; k < K; k++)
            acc[k] += v * aitag__f16_to_f32(w[k]);
    }
}

#ifdef AITAG__X86
/* Rows of halves, 8 at a time with F16C: a row is read in blocks of 8
 * halves, the last one reaching past the row into the next (or into the
 * image's zeroed slack): those lanes land in acc[K..K8), never read. The
 * sums are the scalar loop's, bit for bit (multiply, then add: no FMA).
 * Up to 32 labels, the sums stay in registers. */
#define SCORE16_REGS(NB)                                                                             \
    do {                                                                                           \
        __m256 a[NB];                                                                              \
        for (int b = 0; b < NB; b++)                                                               \
            a[b] = _mm256_setzero_ps();                                                            \
        for (size_t i = 0; i < x->n; i++) {                                                        \
            const uint16_t *w = m->weights16 + (size_t)x->ids[i] * K;                              \
            const __m256 v = _mm256_set1_ps(x->vals[i]);                                           \
            for (int b = 0; b < NB; b++)                                                           \
                a[b] = _mm256_add_ps(                                                              \
                    a[b], _mm256_mul_ps(v, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + 8 * b))))); \
        }                                                                                          \
        for (int b = 0; b < NB; b++)                                                               \
            _mm256_storeu_ps(acc + 8 * b, a[b]);                                                   \
    } while (0)

__attribute__((target("avx,f16c"))) static void score16_f16c(const aitag_model *m, const aitag_features *x,
                                                             float *acc)
{
    const uint32_t K = m->n_labels, K8 = (K + 7) & ~7u;
    switch (K8 / 8) {
    case 1: SCORE16_REGS(1); return;
    case 2: SCORE16_REGS(2); return;
    case 3: SCORE16_REGS(3); return;
    case 4: SCORE16_REGS(4); return;
    default: break;
    }
    for (size_t i = 0; i < x->n; i++) {
        const uint16_t *w = m->weights16 + (size_t)x->ids[i] * K;
        const __m256 v = _mm256_set1_ps(x->vals[i]);
        for (uint32_t k = 0; k < K8; k += 8) {
            __m256 wk = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + k)));
            _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), _mm256_mul_ps(v, wk)));
        }
    }
}
#endif

#ifdef AITAG__X86
/* AVX and F16C, and an OS that saves the YMM registers (CPUID leaf 1 and
 * XGETBV; __builtin_cpu_supports knows no "f16c" in every compiler). */
static int have_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const unsigned osxsave = 1u << 27, avx = 1u << 28, f16c = 1u << 29;
    if ((c & (osxsave | avx | f16c)) != (osxsave | avx | f16c))
        return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6u) == 6u; /* XMM and YMM state enabled */
}
#endif

static void (*score16_pick(void))(const aitag_model *, const aitag_features *, float *)
{
#ifdef AITAG__X86
    if (have_f16c())
        return score16_f16c;
#endif
    return score16_scalar;
}

void aitag__classifier_use_portable_loop(aitag_classifier *c) { c->score16 = score16_scalar; }

aitag_status aitag_classifier_create(const aitag_model *m, aitag_classifier **out, aitag_error *err)
{
    *out = NULL;
    aitag_classifier *c = aitag__calloc(1, sizeof *c);
    if (!c)
        return aitag__fail(err, AITAG_NOMEM, "out of memory creating a classifier");
    c->m = m;
    c->count = aitag__calloc(m->n_features, sizeof *c->count);
    c->acc = aitag__calloc(((size_t)m->n_labels + 7) & ~(size_t)7, sizeof *c->acc);
    c->score16 = score16_pick();
    c->margins = aitag__calloc(m->n_labels, sizeof *c->margins);
    c->probs = aitag__calloc(m->n_labels, sizeof *c->probs);
    c->tags = aitag__calloc(m->n_labels, sizeof *c->tags);
    c->evidence = aitag__calloc(m->n_labels, sizeof *c->evidence);
    c->pmargins = aitag__calloc(m->n_labels, sizeof *c->pmargins);
    c->best = aitag__calloc(m->n_labels, sizeof *c->best);
    c->best_span = aitag__calloc(m->n_labels, sizeof *c->best_span);
    c->pcount = aitag__calloc(m->n_features, sizeof *c->pcount);
    if (!c->pcount || !c->count || !c->acc || !c->margins || !c->probs || !c->tags || !c->evidence || !c->pmargins || !c->best ||
        !c->best_span) {
        aitag_classifier_free(c);
        return aitag__fail(err, AITAG_NOMEM, "out of memory creating a classifier");
    }
    aitag_status rc = aitag_tokenizer_create(&m->tok, &c->tok, err);
    if (rc != AITAG_OK) {
        aitag_classifier_free(c);
        return rc;
    }
    *out = c;
    return AITAG_OK;
}

void aitag_classifier_free(aitag_classifier *c)
{
    if (!c)
        return;
    aitag_tokenizer_free(c->tok);
    aitag__free(c->count);
    aitag__free(c->touched);
    aitag__free(c->vals);
    aitag__free(c->raw);
    aitag__free(c->acc);
    aitag__free(c->margins);
    aitag__free(c->probs);
    aitag__free(c->tags);
    aitag__free(c->evidence);
    aitag__free(c->pmargins);
    aitag__free(c->best);
    aitag__free(c->best_span);
    aitag__spans_free(&c->spans);
    aitag__free(c->pcount);
    aitag__free(c->ptouched);
    aitag__free(c->pvals);
    aitag__free(c);
}

static int count_feature(aitag_classifier *c, uint32_t id)
{
    if (c->count[id]++ == 0) {
        if (c->n_touched == c->cap && aitag__grow(&c->touched, &c->cap, c->n_touched + 1, sizeof *c->touched)) {
            c->count[id]--;
            c->oom = 1;
            return 1;
        }
        c->touched[c->n_touched++] = (uint32_t)id;
    }
    if (c->in_passage && c->pcount[id]++ == 0) {
        if (c->pn == c->pcap && aitag__grow(&c->ptouched, &c->pcap, c->pn + 1, sizeof *c->ptouched)) {
            c->pcount[id]--;
            c->oom = 1;
            return 1;
        }
        c->ptouched[c->pn++] = (uint32_t)id;
    }
    return 0;
}

/* What counting feature id will touch: its count(s), its idf and its row
 * of weights (read by featurize_end and aitag_score). */
static inline void prefetch_feature(const aitag_classifier *c, int32_t id)
{
    if (id < 0)
        return;
    const aitag_model *m = c->m;
    __builtin_prefetch(&c->count[id], 1);
    if (c->in_passage)
        __builtin_prefetch(&c->pcount[id], 1);
    __builtin_prefetch(&m->idf[id]);
    if (m->weights16) {
        const uint16_t *w = m->weights16 + (size_t)id * m->n_labels;
        __builtin_prefetch(w);
        __builtin_prefetch(w + m->n_labels - 1);
    }
}

/* Looks up and counts the batch of hashes; 1 when out of memory. */
static int flush(aitag_classifier *c)
{
    const aitag_model *m = c->m;
    const uint64_t *h = c->hb;
    int32_t *id = c->idb;
    const size_t n = c->nh;
    c->nh = 0;
    for (size_t i = 0; i < n && i < LOOKAHEAD; i++)
        __builtin_prefetch(aitag__model_probe_addr(m, h[i]));
    for (size_t i = 0; i < n; i++) {
        if (i + LOOKAHEAD < n)
            __builtin_prefetch(aitag__model_probe_addr(m, h[i + LOOKAHEAD]));
        id[i] = (int32_t)aitag__model_lookup_hash(m, h[i]);
    }
    for (size_t i = 0; i < n && i < LOOKAHEAD; i++)
        prefetch_feature(c, id[i]);
    for (size_t i = 0; i < n; i++) {
        if (i + LOOKAHEAD < n)
            prefetch_feature(c, id[i + LOOKAHEAD]);
        if (id[i] >= 0 && count_feature(c, (uint32_t)id[i]))
            return 1;
    }
    return 0;
}

static int on_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    (void)kind;
    aitag_classifier *c = ud;
    c->hb[c->nh++] = aitag__hash_bytes(term, len);
    return c->nh == BATCH ? flush(c) : 0;
}

static void drain(aitag_classifier *c)
{
    if (!c->oom)
        flush(c);
    c->nh = 0;
}

static void featurize_begin(aitag_classifier *c)
{
    c->n_touched = 0;
    c->oom = 0;
    c->nh = 0;
}

/* Counts the terms of one piece of the text (the whole of it, or a passage). */
static aitag_status featurize_add(aitag_classifier *c, const char *text, size_t len, aitag_tokenize_stats *stats,
                                  aitag_error *err)
{
    aitag_status rc = aitag_tokenize(c->tok, text, len, on_term, c, stats, err);
    drain(c);
    return rc;
}

/* The counted terms -> the L2-normalised TF-IDF vector; counts back to zero. */
static aitag_status featurize_end(aitag_classifier *c, aitag_status rc, aitag_features *out, aitag_error *err)
{
    const aitag_model *m = c->m;
    size_t n = c->n_touched;
    if (rc == AITAG_OK && (aitag__grow(&c->vals, &c->vals_cap, n ? n : 1, sizeof *c->vals) != 0 ||
                           aitag__grow(&c->raw, &c->raw_cap, n ? n : 1, sizeof *c->raw) != 0))
        c->oom = 1;
    if (rc != AITAG_OK || c->oom) {
        for (size_t i = 0; i < n; i++)
            c->count[c->touched[i]] = 0;
        c->n_touched = 0;
        out->n = 0;
        return c->oom ? aitag__fail(err, AITAG_NOMEM, "out of memory featurizing a document") : rc;
    }
    double norm = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = c->touched[i];
        double x = aitag__tfidf(c->count[id], m->idf[id]);
        c->count[id] = 0;
        c->raw[i] = x;
        norm += x * x;
    }
    norm = norm > 0 ? 1.0 / sqrt(norm) : 0.0;
    for (size_t i = 0; i < n; i++)
        c->vals[i] = (float)(c->raw[i] * norm);
    out->n = n;
    out->ids = c->touched;
    out->vals = c->vals;
    return AITAG_OK;
}

aitag_status aitag_featurize(aitag_classifier *c, const char *text, size_t len, aitag_features *out,
                             aitag_tokenize_stats *stats, aitag_error *err)
{
    featurize_begin(c);
    return featurize_end(c, featurize_add(c, text, len, stats, err), out, err);
}

void aitag_score(aitag_classifier *c, const aitag_features *x, double *margins)
{
    const aitag_model *m = c->m;
    const uint32_t K = m->n_labels;
    float *acc = c->acc;
    memset(acc, 0, K * sizeof *acc);
    if (m->weights16)
        c->score16(m, x, acc);
    else
        for (size_t i = 0; i < x->n; i++) {
            const float *w = m->weights + (size_t)x->ids[i] * K;
            const float v = x->vals[i];
            for (uint32_t k = 0; k < K; k++)
                acc[k] += v * w[k];
        }
    for (uint32_t k = 0; k < K; k++)
        margins[k] = (double)acc[k] + m->bias[k];
}

size_t aitag_explain(aitag_classifier *c, const aitag_features *x, size_t k, size_t n, uint32_t *ids,
                     double *contrib)
{
    const aitag_model *m = c->m;
    size_t got = 0;
    if (k >= m->n_labels || n == 0)
        return 0;
    /* keep the n largest positive contributions by insertion (n is small) */
    for (size_t i = 0; i < x->n; i++) {
        double v = (double)x->vals[i] * aitag__model_weight(m, x->ids[i], k);
        if (!(v > 0) || (got == n && v <= contrib[got - 1])) /* !(v > 0) also skips NaN */
            continue;
        size_t j = got < n ? got++ : n - 1;
        while (j > 0 && contrib[j - 1] < v) {
            contrib[j] = contrib[j - 1];
            ids[j] = ids[j - 1];
            j--;
        }
        contrib[j] = v;
        ids[j] = x->ids[i];
    }
    return got;
}

aitag_classify_opts aitag_classify_opts_default(void)
{
    aitag_classify_opts o;
    memset(&o, 0, sizeof o);
    o.decide = aitag_decide_opts_default();
    return o;
}

/* The gate's margin on the document's features. */
static double gate_margin(const aitag_model *m, const aitag_features *x)
{
    double s = m->meta.info.gate_bias;
    for (size_t i = 0; i < x->n; i++)
        s += (double)x->vals[i] * (double)m->gate[x->ids[i]];
    return s;
}

/* Window size for evidence when the model has no passage rule of its own. */
#define EVIDENCE_WORDS 100

/* The current passage's vector (from pcount) scored into pmargins; its
 * counts back to zero. */
static int score_passage(aitag_classifier *c)
{
    const aitag_model *m = c->m;
    size_t n = c->pn;
    if (aitag__grow(&c->pvals, &c->pvals_cap, n ? n : 1, sizeof *c->pvals) != 0)
        return -1;
    double norm = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = c->ptouched[i];
        double x = aitag__tfidf(c->pcount[id], m->idf[id]);
        c->pcount[id] = 0;
        c->pvals[i] = (float)x;
        norm += x * x;
    }
    norm = norm > 0 ? 1.0 / sqrt(norm) : 0.0;
    for (size_t i = 0; i < n; i++)
        c->pvals[i] = (float)(c->pvals[i] * norm);
    aitag_features x = {n, c->ptouched, c->pvals};
    aitag_score(c, &x, c->pmargins);
    c->pn = 0;
    return 0;
}

/* Keeps, per label, the best passage margin so far (pmargins holds passage p's). */
static void keep_best(aitag_classifier *c, size_t p)
{
    for (uint32_t k = 0; k < c->m->n_labels; k++)
        if (c->pmargins[k] > c->best[k]) {
            c->best[k] = c->pmargins[k];
            c->best_span[k] = p;
        }
}

/* For evidence with a model trained on whole articles: each passage
 * featurized and scored on its own (the document is featurized after). */
static aitag_status score_passages_apart(aitag_classifier *c, const char *text, aitag_error *err)
{
    const uint32_t K = c->m->n_labels;
    for (uint32_t k = 0; k < K; k++)
        c->best[k] = -HUGE_VAL;
    for (size_t p = 0; p < c->spans.n; p++) {
        const aitag__span *sp = &c->spans.v[p];
        aitag_features x;
        aitag_status rc = aitag_featurize(c, text + sp->start, sp->end - sp->start, &x, NULL, err);
        if (rc != AITAG_OK)
            return rc;
        aitag_score(c, &x, c->pmargins);
        keep_best(c, p);
    }
    return AITAG_OK;
}

/* Featurizes a text of several passages in one tokenization: each passage is
 * counted on its own and scored (each label's best passage margin and its
 * span are kept), and the document's vector is the sum of its passages'
 * (so a word pair that spans two passages is not a term, as in training). */
static aitag_status featurize_passages(aitag_classifier *c, const char *text, aitag_features *x,
                                       aitag_tokenize_stats *stats, aitag_error *err)
{
    const uint32_t K = c->m->n_labels;
    for (uint32_t k = 0; k < K; k++)
        c->best[k] = -HUGE_VAL;
    featurize_begin(c);
    c->in_passage = 1;
    aitag_status rc = AITAG_OK;
    memset(stats, 0, sizeof *stats);
    for (size_t p = 0; p < c->spans.n && rc == AITAG_OK; p++) {
        const aitag__span *sp = &c->spans.v[p];
        aitag_tokenize_stats ps;
        rc = featurize_add(c, text + sp->start, sp->end - sp->start, &ps, err);
        if (rc == AITAG_OK && !c->oom && score_passage(c) != 0)
            c->oom = 1;
        stats->bytes += ps.bytes;
        stats->words += ps.words;
        stats->terms += ps.terms;
        stats->invalid += ps.invalid;
        stats->nul_bytes += ps.nul_bytes;
        stats->dropped_long += ps.dropped_long;
        if (rc == AITAG_OK && !c->oom)
            keep_best(c, p);
    }
    c->in_passage = 0;
    for (size_t i = 0; i < c->pn; i++) /* what an interrupted passage had counted */
        c->pcount[c->ptouched[i]] = 0;
    c->pn = 0;
    return featurize_end(c, rc, x, err);
}

/* Each tag's passage: the best-scoring one (the whole text when it has one),
 * with the label's probability on that passage alone. */
static void fill_evidence(aitag_classifier *c, size_t len, const double *doc_margin, size_t n_tags)
{
    const aitag_model *m = c->m;
    for (size_t j = 0; j < n_tags; j++) {
        uint32_t k = c->tags[j];
        int many = c->spans.n >= 2;
        const aitag__span *sp = many ? &c->spans.v[c->best_span[k]] : NULL;
        double mg = many ? c->best[k] : doc_margin[k];
        size_t s = sp ? sp->start : c->spans.n ? c->spans.v[0].start : 0;
        size_t e = sp ? sp->end : c->spans.n ? c->spans.v[0].end : len;
        c->evidence[j] = (aitag_evidence){s, e, 1.0 / (1.0 + exp(m->platt_a[k] * mg + m->platt_b[k]))};
    }
}

aitag_status aitag_classify(aitag_classifier *c, const char *text, size_t len, const aitag_classify_opts *o,
                            aitag_result *out, aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_classify: no result given");
    memset(out, 0, sizeof *out);
    if (!c || (!text && len))
        return aitag__fail(err, AITAG_INVALID, "aitag_classify: %s is NULL", c ? "text" : "classifier");
    aitag_classify_opts def = aitag_classify_opts_default();
    if (!o)
        o = &def;
    const aitag_model *m = c->m;
    const aitag_model_info *mi = &m->meta.info;
    c->last_text = text ? text : "";
    c->last_len = len;
    c->spans.n = 0;
    aitag_status rc = AITAG_OK;
    if ((mi->passages || o->evidence) &&
        aitag__passages(c->last_text, len, mi->passages ? mi->passage_words : EVIDENCE_WORDS, &c->spans) != 0)
        return aitag__fail(err, AITAG_NOMEM, "out of memory cutting passages");
    aitag_features x;
    if (c->spans.n >= 2 && mi->passages)
        rc = featurize_passages(c, c->last_text, &x, &out->stats, err);
    else if (c->spans.n >= 2) /* evidence only: the document as it was trained, passages apart */
        rc = score_passages_apart(c, c->last_text, err);
    if (rc == AITAG_OK && !(c->spans.n >= 2 && mi->passages))
        rc = aitag_featurize(c, c->last_text, len, &x, &out->stats, err);
    if (rc != AITAG_OK)
        return rc;
    double *doc = c->pmargins; /* the document's own margins, kept for evidence */
    aitag_score(c, &x, doc);
    const uint32_t K = m->n_labels;
    for (uint32_t k = 0; k < K; k++) {
        /* the passage rule: a sector covered in one paragraph of six is not
         * diluted away (a one-passage text is its own best passage) */
        double w = mi->passages ? mi->passage_weight[k] : 0.0;
        double best = c->spans.n >= 2 ? c->best[k] : doc[k];
        c->margins[k] = w > 0 ? (1.0 - w) * doc[k] + w * best : doc[k];
    }
    size_t n = aitag_decide(m, c->margins, &o->decide, c->tags, c->probs);
    if (m->gate && gate_margin(m, &x) <= mi->gate_threshold) {
        /* not about any label: only what min_labels asks for */
        n = n < o->decide.min_labels ? n : o->decide.min_labels;
    }
    out->n_tags = n;
    out->tags = c->tags;
    out->n_labels = K;
    out->probs = c->probs;
    out->margins = c->margins;
    if (o->evidence) {
        fill_evidence(c, len, doc, n);
        out->evidence = c->evidence;
    }
    return AITAG_OK;
}

void aitag__classifier_last_features(aitag_classifier *c, aitag_features *x)
{
    x->n = c->n_touched;
    x->ids = c->touched;
    x->vals = c->vals;
}

const char *aitag__classifier_last_text(aitag_classifier *c, size_t *len)
{
    *len = c->last_len;
    return c->last_text;
}
