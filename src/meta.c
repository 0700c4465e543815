/*
 * meta.c: model metadata <-> JSON header (see meta.h). Every cJSON call is
 * checked: a failure while printing gives NULL (out of memory), never a
 * header with fields missing; a header that lacks a field, or holds a value
 * training could not have written, is refused with the field's name.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "internal.h"
#include "meta.h"

#define WEIGHTING "tfidf-sublinear-smooth-l2"
#define TERM_HASH "fnv1a64-words+fmix64"

/* ---- life cycle ---------------------------------------------------------- */

static void point_info(aitag__meta *m)
{
    aitag_model_info *i = &m->info;
    i->labels = (const char *const *)m->labels;
    i->untrainable = (const char *const *)m->untrainable;
    i->thresholds = m->thresholds;
    i->platt_a = m->platt_a;
    i->platt_b = m->platt_b;
    i->bias = m->bias;
    i->passage_weight = m->passage_weight;
    i->aitag_version = m->aitag_version;
    i->created = m->created;
    i->weighting = m->weighting;
    i->term_hash = m->term_hash;
    i->solver = m->solver;
    i->sections = m->sections;
    for (size_t s = 0; s < AITAG__MAX_SECTIONS; s++)
        m->sections[s].name = m->section_names[s];
}

aitag_status aitag__meta_init(aitag__meta *m, size_t n_labels, size_t n_untrainable, aitag_error *err)
{
    memset(m, 0, sizeof *m);
    size_t K = n_labels ? n_labels : 1;
    m->labels = aitag__calloc(K, sizeof *m->labels);
    m->untrainable = aitag__calloc(n_untrainable ? n_untrainable : 1, sizeof *m->untrainable);
    m->thresholds = aitag__calloc(K, sizeof(double));
    m->platt_a = aitag__calloc(K, sizeof(double));
    m->platt_b = aitag__calloc(K, sizeof(double));
    m->bias = aitag__calloc(K, sizeof(double));
    m->passage_weight = aitag__calloc(K, sizeof(double));
    m->info.n_labels = n_labels;
    m->info.n_untrainable = n_untrainable;
    if (!m->labels || !m->untrainable || !m->thresholds || !m->platt_a || !m->platt_b || !m->bias ||
        !m->passage_weight) {
        aitag__meta_free(m);
        return aitag__fail(err, AITAG_NOMEM, "out of memory for the model's metadata");
    }
    m->info.format_version = AITAG_MODEL_FORMAT_VERSION;
    aitag__meta_set_str(m->weighting, sizeof m->weighting, WEIGHTING);
    aitag__meta_set_str(m->term_hash, sizeof m->term_hash, TERM_HASH);
    point_info(m);
    return AITAG_OK;
}

void aitag__meta_free(aitag__meta *m)
{
    for (size_t k = 0; m->labels && k < m->info.n_labels; k++)
        aitag__free(m->labels[k]);
    for (size_t k = 0; m->untrainable && k < m->info.n_untrainable; k++)
        aitag__free(m->untrainable[k]);
    aitag__free(m->labels);
    aitag__free(m->untrainable);
    aitag__free(m->thresholds);
    aitag__free(m->platt_a);
    aitag__free(m->platt_b);
    aitag__free(m->bias);
    aitag__free(m->passage_weight);
    memset(m, 0, sizeof *m);
}

int aitag__meta_set_label(aitag__meta *m, size_t k, const char *s, int untrainable)
{
    char **slot = untrainable ? &m->untrainable[k] : &m->labels[k];
    aitag__free(*slot);
    *slot = aitag__strndup(s, strlen(s));
    return *slot ? 0 : -1;
}

void aitag__meta_set_str(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

const char *aitag__label_problem(const char *s, size_t n, int need_nfc)
{
    if (n == 0)
        return "empty label";
    if (n > 255)
        return "label longer than 255 bytes";
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (len <= 0)
            return "label is not valid UTF-8";
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0x2028 || cp == 0x2029)
            return "label contains a control character";
        i += (size_t)len;
    }
    if (!need_nfc)
        return NULL;
    /* one spelling per label: "café" typed with a combining accent is the same label */
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfc,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    int same = r == (utf8proc_ssize_t)n && memcmp(nfc, s, n) == 0;
    free(nfc);
    return r < 0 ? "label cannot be normalised" : same ? NULL : "label is not in Unicode NFC";
}

/* ---- struct -> JSON ------------------------------------------------------- */

/* Each helper returns 0, or -1 when cJSON could not allocate. */
static int add_num(cJSON *o, const char *k, double v) { return cJSON_AddNumberToObject(o, k, v) ? 0 : -1; }
static int add_str(cJSON *o, const char *k, const char *v) { return cJSON_AddStringToObject(o, k, v) ? 0 : -1; }
static int add_bool(cJSON *o, const char *k, int v) { return cJSON_AddBoolToObject(o, k, v) ? 0 : -1; }

static int add_hex(cJSON *o, const char *k, uint64_t v)
{
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)v);
    return add_str(o, k, hex);
}

static int add_nums(cJSON *o, const char *k, const double *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (size_t i = 0; a && i < n; i++) {
        cJSON *x = cJSON_CreateNumber(v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return -1;
        }
    }
    return a ? 0 : -1;
}

static int add_strs(cJSON *o, const char *k, char *const *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (size_t i = 0; a && i < n; i++) {
        cJSON *x = cJSON_CreateString(v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return -1;
        }
    }
    return a ? 0 : -1;
}

static int put_tokenizer(cJSON *h, const aitag_tokenizer_params *t)
{
    cJSON *o = cJSON_AddObjectToObject(h, "tokenizer");
    if (!o)
        return -1;
    return add_str(o, "normalization", t->strip_accents ? "NFKC+casefold+ignorable+stripmark" : "NFKC+casefold+ignorable") |
           add_num(o, "utf8proc_options", aitag_tokenizer_utf8proc_options(t)) |
           add_bool(o, "strip_accents", t->strip_accents) | add_num(o, "word_ngrams", t->word_ngrams) |
           add_num(o, "char_ngram_min", t->char_ngram_min) | add_num(o, "char_ngram_max", t->char_ngram_max) |
           add_num(o, "max_token_bytes", t->max_token_bytes) | add_str(o, "cjk", "character-bigrams") |
           add_str(o, "hangul", "word+syllable-bigrams") | add_str(o, "thai_lao_khmer_myanmar", "character-bigrams");
}

static int put_features(cJSON *h, const aitag_model_info *i)
{
    cJSON *o = cJSON_AddObjectToObject(h, "features");
    if (!o)
        return -1;
    return add_num(o, "min_df", i->min_df) | add_num(o, "max_df", i->max_df) |
           add_num(o, "max_features", i->max_features) | add_str(o, "weighting", i->weighting) |
           add_num(o, "count", i->n_features) | add_num(o, "hash_bits", i->hash_bits) |
           add_str(o, "term_hash", i->term_hash);
}

static int put_training(cJSON *h, const aitag_model_info *i)
{
    cJSON *o = cJSON_AddObjectToObject(h, "training");
    if (!o)
        return -1;
    int rc = add_str(o, "solver", i->solver) | add_num(o, "C", i->C) | add_num(o, "eps", i->eps) |
             add_num(o, "bias_feature", 1) | add_num(o, "folds", i->folds) | add_num(o, "seed", (double)i->seed) |
             add_str(o, "decision", i->single_label ? "arg-max" : "per-label-threshold") |
             add_str(o, "threshold_tuning", i->folds >= 2 ? "max-f1-on-held-out-folds" : "none (0)") |
             add_str(o, "calibration", i->folds >= 2 ? "platt-on-held-out-folds" : "none (A=-2, B=0)") |
             add_num(o, "documents", (double)i->documents) | add_hex(o, "corpus_checksum", i->corpus_checksum);
    if (i->has_cv) {
        cJSON *cv = cJSON_AddObjectToObject(o, "cv");
        rc |= !cv ? -1
                  : add_num(cv, "micro_f1", i->cv_micro_f1) | add_num(cv, "macro_f1", i->cv_macro_f1) |
                        add_num(cv, "accuracy", i->cv_accuracy) | add_num(cv, "subset_accuracy", i->cv_subset_accuracy);
    }
    if (i->n_search_C) {
        cJSON *g = cJSON_AddArrayToObject(o, "search_C");
        for (uint32_t c = 0; g && c < i->n_search_C; c++) {
            double pair[2] = {i->search_C[c], i->search_score[c]};
            cJSON *p = cJSON_CreateDoubleArray(pair, 2);
            if (!p || !cJSON_AddItemToArray(g, p)) {
                cJSON_Delete(p);
                rc = -1;
            }
        }
        rc |= g ? 0 : -1;
    }
    return rc;
}

static int put_sections(cJSON *h, const aitag_model_info *i)
{
    cJSON *a = cJSON_AddArrayToObject(h, "sections");
    for (size_t s = 0; a && s < i->n_sections; s++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            return -1;
        }
        const aitag_model_section *x = &i->sections[s];
        if (add_str(o, "name", x->name) | add_num(o, "offset", (double)x->offset) | add_num(o, "size", (double)x->size) |
            add_hex(o, "checksum", x->checksum) |
            add_str(o, "checksum_algorithm", aitag__checksum_name(i->format_version)))
            return -1;
    }
    return a ? 0 : -1;
}

char *aitag__meta_to_json(const aitag__meta *m, aitag_error *err)
{
    const aitag_model_info *i = &m->info;
    cJSON *h = cJSON_CreateObject();
    cJSON *platt = h ? cJSON_CreateObject() : NULL;
    int rc = h && platt ? 0 : -1;
    if (rc == 0) {
        rc = add_str(h, "format", "aitag-model") | add_num(h, "format_version", i->format_version) |
             add_str(h, "aitag_version", i->aitag_version) | add_str(h, "created", i->created) |
             add_str(h, "mode", i->single_label ? "single-label" : "multi-label") |
             add_strs(h, "labels", m->labels, i->n_labels) |
             add_strs(h, "untrainable_labels", m->untrainable, i->n_untrainable) |
             add_nums(h, "bias", m->bias, i->n_labels) | add_nums(h, "thresholds", m->thresholds, i->n_labels);
        rc |= add_nums(platt, "A", m->platt_a, i->n_labels) | add_nums(platt, "B", m->platt_b, i->n_labels);
        rc |= cJSON_AddItemToObject(h, "platt", platt) ? 0 : -1;
        if (rc)
            cJSON_Delete(platt);
        platt = NULL;
    }
    if (rc == 0)
        rc = put_tokenizer(h, &i->tokenizer) | put_features(h, i) | put_training(h, i);
    if (rc == 0 && i->gate) {
        cJSON *g = cJSON_AddObjectToObject(h, "gate");
        rc = !g ? -1 : add_num(g, "bias", i->gate_bias) | add_num(g, "threshold", i->gate_threshold);
    }
    if (rc == 0 && i->passages) {
        cJSON *p = cJSON_AddObjectToObject(h, "passages");
        rc = !p ? -1 : add_num(p, "words", i->passage_words) | add_nums(p, "weight", m->passage_weight, i->n_labels);
    }
    if (rc == 0)
        rc = put_sections(h, i);
    char *text = rc == 0 ? cJSON_Print(h) : NULL;
    cJSON_Delete(platt);
    cJSON_Delete(h);
    if (!text)
        aitag__fail(err, AITAG_NOMEM, "out of memory writing the model header");
    return text;
}

/* ---- JSON -> struct ------------------------------------------------------- */

typedef struct {
    const char *name;
    aitag_error *err;
} ctx;

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static int bad(ctx *c, aitag_status code, const char *fmt, const char *what)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, what);
    aitag__fail(c->err, code, "%s: %s", c->name, msg);
    return -1;
}

static int get_uint(ctx *c, const cJSON *o, const char *key, uint64_t max, uint64_t *out)
{
    const cJSON *v = get(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > (double)max ||
        v->valuedouble != floor(v->valuedouble)) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: header field \"%s\" is missing or not an integer in [0, %llu]",
                    c->name, key, (unsigned long long)max);
        return -1;
    }
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int get_u32(ctx *c, const cJSON *o, const char *key, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (get_uint(c, o, key, max, &v))
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A finite number within +-AITAG__MAX_ABS (optional: 0 when absent and !need). */
static int get_num(ctx *c, const cJSON *o, const char *key, int need, double *out)
{
    const cJSON *v = get(o, key);
    if (!v && !need) {
        *out = 0;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > AITAG__MAX_ABS)
        return bad(c, AITAG_CORRUPT, "header field \"%s\" is missing or not a finite number of sensible size", key);
    *out = v->valuedouble;
    return 0;
}

static int get_str(ctx *c, const cJSON *o, const char *key, int need, char *dst, size_t cap)
{
    const cJSON *v = get(o, key);
    if (!v && !need) {
        dst[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(v))
        return bad(c, AITAG_CORRUPT, "header field \"%s\" is missing or not a string", key);
    aitag__meta_set_str(dst, cap, v->valuestring);
    return 0;
}

static int get_nums(ctx *c, const cJSON *o, const char *key, double *d, size_t n)
{
    const cJSON *a = get(o, key);
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: header field \"%s\" must be an array of %zu numbers", c->name, key, n);
        return -1;
    }
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > AITAG__MAX_ABS) {
            aitag__fail(c->err, AITAG_CORRUPT, "%s: header field \"%s\"[%zu] is not a finite number of sensible size",
                        c->name, key, i);
            return -1;
        }
        d[i++] = v->valuedouble;
    }
    return 0;
}

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Labels as training writes them: usable names, no two alike. */
static int get_labels(ctx *c, aitag__meta *m, const cJSON *arr, int untrainable)
{
    size_t n = untrainable ? m->info.n_untrainable : m->info.n_labels, k = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        const char *why = cJSON_IsString(v) ? aitag__label_problem(v->valuestring, strlen(v->valuestring), 1)
                                            : "not a string";
        if (why) {
            aitag__fail(c->err, AITAG_CORRUPT, "%s: %slabel %zu: %s", c->name, untrainable ? "untrainable " : "", k, why);
            return -1;
        }
        if (aitag__meta_set_label(m, k++, v->valuestring, untrainable)) {
            aitag__fail(c->err, AITAG_NOMEM, "%s: out of memory", c->name);
            return -1;
        }
    }
    if (untrainable || n < 2)
        return 0;
    char **sorted = aitag__malloc(n * sizeof *sorted);
    if (!sorted) {
        aitag__fail(c->err, AITAG_NOMEM, "%s: out of memory", c->name);
        return -1;
    }
    memcpy(sorted, m->labels, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_str); /* O(K log K): duplicates end up side by side */
    int dup = -1;
    for (size_t i = 1; i < n && dup < 0; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            dup = (int)i;
    if (dup >= 0)
        aitag__fail(c->err, AITAG_CORRUPT, "%s: label \"%s\" appears twice", c->name, sorted[dup]);
    aitag__free(sorted);
    return dup >= 0 ? -1 : 0;
}

static int parse_tokenizer(ctx *c, const cJSON *t, aitag_tokenizer_params *tp)
{
    uint32_t opts;
    *tp = aitag_tokenizer_params_default();
    if (!cJSON_IsObject(t))
        return bad(c, AITAG_CORRUPT, "header has no \"%s\" object", "tokenizer");
    if (get_u32(c, t, "word_ngrams", 16, &tp->word_ngrams) || get_u32(c, t, "char_ngram_min", 16, &tp->char_ngram_min) ||
        get_u32(c, t, "char_ngram_max", 16, &tp->char_ngram_max) ||
        get_u32(c, t, "max_token_bytes", 1024, &tp->max_token_bytes))
        return -1;
    const cJSON *sa = get(t, "strip_accents");
    if (!cJSON_IsBool(sa))
        return bad(c, AITAG_CORRUPT, "header field \"%s\" must be true or false", "strip_accents");
    tp->strip_accents = cJSON_IsTrue(sa);
    const char *why = aitag_tokenizer_params_check(tp);
    if (why)
        return bad(c, AITAG_CORRUPT, "tokenizer settings: %s", why);
    if (get_u32(c, t, "utf8proc_options", UINT32_MAX, &opts))
        return -1;
    if (opts != (uint32_t)aitag_tokenizer_utf8proc_options(tp))
        return bad(c, AITAG_FORMAT, "the model was trained with a normalisation (%s) this aitag does not apply",
                   "utf8proc options");
    return 0;
}

static int parse_features(ctx *c, const cJSON *f, aitag__meta *m)
{
    aitag_model_info *i = &m->info;
    if (!cJSON_IsObject(f))
        return bad(c, AITAG_CORRUPT, "header has no \"%s\" object", "features");
    if (get_u32(c, f, "count", AITAG__MAX_FEATURES, &i->n_features) || get_u32(c, f, "hash_bits", 30, &i->hash_bits))
        return -1;
    const cJSON *wt = get(f, "weighting"), *th = get(f, "term_hash");
    if (!cJSON_IsString(wt) || strcmp(wt->valuestring, WEIGHTING) != 0)
        return bad(c, AITAG_FORMAT, "unknown feature weighting (this aitag applies \"%s\")", WEIGHTING);
    if (!cJSON_IsString(th) || strcmp(th->valuestring, TERM_HASH) != 0)
        return bad(c, AITAG_FORMAT, "unknown term hash (this aitag computes \"%s\")", TERM_HASH);
    if (i->n_features == 0 || (i->hash_bits && (i->hash_bits < 10 || i->n_features != (1u << i->hash_bits)))) {
        aitag__fail(c->err, AITAG_CORRUPT, "%s: feature count %u does not fit hash_bits %u", c->name, i->n_features,
                    i->hash_bits);
        return -1;
    }
    /* how the features were chosen: informative, optional */
    const cJSON *v;
    if (cJSON_IsNumber(v = get(f, "min_df")) && v->valuedouble >= 0 && v->valuedouble <= UINT32_MAX)
        i->min_df = (uint32_t)v->valuedouble;
    if (cJSON_IsNumber(v = get(f, "max_features")) && v->valuedouble >= 0 && v->valuedouble <= UINT32_MAX)
        i->max_features = (uint32_t)v->valuedouble;
    if (cJSON_IsNumber(v = get(f, "max_df")) && isfinite(v->valuedouble))
        i->max_df = v->valuedouble;
    return 0;
}

static int parse_hex(const cJSON *v, uint64_t *out)
{
    char *end;
    if (!cJSON_IsString(v) || strlen(v->valuestring) != 16)
        return -1;
    *out = strtoull(v->valuestring, &end, 16);
    return *end ? -1 : 0;
}

/* How the model was trained: informative; types are checked where present. */
static int parse_training(ctx *c, const cJSON *t, aitag__meta *m)
{
    aitag_model_info *i = &m->info;
    if (!t)
        return 0;
    if (!cJSON_IsObject(t))
        return bad(c, AITAG_CORRUPT, "header field \"%s\" is not an object", "training");
    uint64_t u = 0;
    if (get_str(c, t, "solver", 0, m->solver, sizeof m->solver) || get_num(c, t, "C", 0, &i->C) ||
        get_num(c, t, "eps", 0, &i->eps) || (get(t, "folds") && get_u32(c, t, "folds", 20, &i->folds)) ||
        (get(t, "seed") && get_uint(c, t, "seed", (uint64_t)1 << 53, &i->seed)) ||
        (get(t, "documents") && get_uint(c, t, "documents", (uint64_t)1 << 53, &i->documents)))
        return -1;
    if (get(t, "corpus_checksum") && parse_hex(get(t, "corpus_checksum"), &u))
        return bad(c, AITAG_CORRUPT, "header field \"%s\" is not 16 hex digits", "corpus_checksum");
    i->corpus_checksum = u;
    const cJSON *cv = get(t, "cv");
    if (cJSON_IsObject(cv)) {
        i->has_cv = 1;
        if (get_num(c, cv, "micro_f1", 0, &i->cv_micro_f1) || get_num(c, cv, "macro_f1", 0, &i->cv_macro_f1) ||
            get_num(c, cv, "accuracy", 0, &i->cv_accuracy) ||
            get_num(c, cv, "subset_accuracy", 0, &i->cv_subset_accuracy))
            return -1;
    }
    const cJSON *g = get(t, "search_C"), *pair;
    if (!cJSON_IsArray(g))
        g = NULL;
    cJSON_ArrayForEach(pair, g)
    {
        const cJSON *a = cJSON_GetArrayItem(pair, 0), *b = cJSON_GetArrayItem(pair, 1);
        if (i->n_search_C >= 8 || !cJSON_IsNumber(a) || !cJSON_IsNumber(b))
            return bad(c, AITAG_CORRUPT, "header field \"%s\" is malformed", "training.search_C");
        i->search_C[i->n_search_C] = a->valuedouble;
        i->search_score[i->n_search_C++] = b->valuedouble;
    }
    return 0;
}

static int parse_passages(ctx *c, const cJSON *p, aitag__meta *m)
{
    if (!p)
        return 0;
    if (!cJSON_IsObject(p) || get_u32(c, p, "words", 100000, &m->info.passage_words) ||
        get_nums(c, p, "weight", m->passage_weight, m->info.n_labels))
        return cJSON_IsObject(p) ? -1 : bad(c, AITAG_CORRUPT, "header field \"%s\" is not an object", "passages");
    for (size_t k = 0; k < m->info.n_labels; k++)
        if (m->passage_weight[k] < 0 || m->passage_weight[k] > 1)
            return bad(c, AITAG_CORRUPT, "header field \"%s\" holds a weight outside [0, 1]", "passages.weight");
    if (m->info.passage_words < 8)
        return bad(c, AITAG_CORRUPT, "header field \"%s\" is under 8", "passages.words");
    m->info.passages = 1;
    return 0;
}

static int parse_gate(ctx *c, const cJSON *g, aitag__meta *m)
{
    if (!g)
        return 0;
    if (!cJSON_IsObject(g))
        return bad(c, AITAG_CORRUPT, "header field \"%s\" is not an object", "gate");
    m->info.gate = 1;
    return get_num(c, g, "bias", 1, &m->info.gate_bias) || get_num(c, g, "threshold", 1, &m->info.gate_threshold)
               ? -1
               : 0;
}

static int parse_sections(ctx *c, const cJSON *secs, aitag__meta *m)
{
    if (!cJSON_IsArray(secs))
        return bad(c, AITAG_CORRUPT, "header has no \"%s\" array", "sections");
    const cJSON *s;
    cJSON_ArrayForEach(s, secs)
    {
        size_t n = m->info.n_sections;
        const cJSON *name = get(s, "name");
        if (n == AITAG__MAX_SECTIONS || !cJSON_IsString(name) || strlen(name->valuestring) >= 16)
            return bad(c, AITAG_CORRUPT, "the section table is malformed (%s)", "a name, or too many sections");
        aitag_model_section *x = &m->sections[n];
        aitag__meta_set_str(m->section_names[n], 16, name->valuestring);
        if (get_uint(c, s, "offset", UINT64_MAX >> 12, &x->offset) || get_uint(c, s, "size", UINT64_MAX >> 12, &x->size))
            return -1;
        if (parse_hex(get(s, "checksum"), &x->checksum))
            return bad(c, AITAG_CORRUPT, "section \"%s\" has no valid checksum", name->valuestring);
        for (size_t j = 0; j < n; j++)
            if (strcmp(m->section_names[j], m->section_names[n]) == 0)
                return bad(c, AITAG_CORRUPT, "section \"%s\" appears twice", name->valuestring);
        m->info.n_sections++;
    }
    return 0;
}

static int parse_labels_and_numbers(ctx *c, const cJSON *h, aitag__meta *m)
{
    const cJSON *labels = get(h, "labels"), *untr = get(h, "untrainable_labels"), *platt = get(h, "platt");
    const cJSON *mode = get(h, "mode");
    if (!cJSON_IsString(mode) ||
        (strcmp(mode->valuestring, "single-label") != 0 && strcmp(mode->valuestring, "multi-label") != 0))
        return bad(c, AITAG_CORRUPT, "header \"mode\" must be \"single-label\" or \"%s\"", "multi-label");
    m->info.single_label = strcmp(mode->valuestring, "single-label") == 0;
    if (get_labels(c, m, labels, 0) || (cJSON_IsArray(untr) && get_labels(c, m, untr, 1)))
        return -1;
    if (!cJSON_IsObject(platt))
        return bad(c, AITAG_CORRUPT, "header has no \"%s\" object", "platt");
    size_t K = m->info.n_labels;
    return get_nums(c, h, "bias", m->bias, K) || get_nums(c, h, "thresholds", m->thresholds, K) ||
                   get_nums(c, platt, "A", m->platt_a, K) || get_nums(c, platt, "B", m->platt_b, K)
               ? -1
               : 0;
}

static aitag_status parse_header(ctx *c, const cJSON *h, aitag__meta *m)
{
    const cJSON *fmt = get(h, "format"), *labels = get(h, "labels"), *untr = get(h, "untrainable_labels");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "aitag-model") != 0)
        return aitag__fail(c->err, AITAG_FORMAT, "%s: header \"format\" is not \"aitag-model\"", c->name);
    int nl = cJSON_IsArray(labels) ? cJSON_GetArraySize(labels) : -1;
    int nu = cJSON_IsArray(untr) ? cJSON_GetArraySize(untr) : 0;
    if (nl < 1 || (unsigned)nl > AITAG__MAX_LABELS || (unsigned)nu > AITAG__MAX_LABELS)
        return aitag__fail(c->err, AITAG_CORRUPT, "%s: header \"labels\" must be an array of 1 to %u strings", c->name,
                           AITAG__MAX_LABELS);
    aitag_status rc = aitag__meta_init(m, (size_t)nl, (size_t)nu, NULL);
    if (rc != AITAG_OK)
        return aitag__fail(c->err, rc, "%s: out of memory for the model's metadata", c->name);
    if (get_str(c, h, "aitag_version", 0, m->aitag_version, sizeof m->aitag_version) ||
        get_str(c, h, "created", 0, m->created, sizeof m->created) || parse_labels_and_numbers(c, h, m) ||
        parse_tokenizer(c, get(h, "tokenizer"), &m->info.tokenizer) || parse_features(c, get(h, "features"), m) ||
        parse_training(c, get(h, "training"), m) || parse_passages(c, get(h, "passages"), m) || parse_gate(c, get(h, "gate"), m) ||
        parse_sections(c, get(h, "sections"), m))
        return c->err->code;
    return AITAG_OK;
}

aitag_status aitag__meta_from_json(const char *text, size_t len, const char *name, aitag__meta *m, aitag_error *err)
{
    aitag_error local;
    if (!err)
        err = &local;
    memset(m, 0, sizeof *m);
    ctx c = {name, err};
    cJSON *h = cJSON_ParseWithLength(text, len);
    aitag_status rc;
    if (!h || !cJSON_IsObject(h))
        rc = aitag__fail(err, h ? AITAG_CORRUPT : AITAG_CORRUPT, "%s: the header is not a JSON object", name);
    else
        rc = parse_header(&c, h, m);
    cJSON_Delete(h);
    if (rc != AITAG_OK)
        aitag__meta_free(m);
    return rc;
}
