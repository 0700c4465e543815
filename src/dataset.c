/*
 * dataset.c: labelled text -> tokenized rows of (term, count), plus document
 * frequencies. One tokenization pass; texts are not kept.
 */
#include <string.h>
#include <utf8proc.h>

#include "aitag/corpus.h"
#include "dataset.h"
#include "internal.h"
#include "meta.h"

aitag_status aitag_dataset_create(const aitag_tokenizer_params *tp, uint32_t hash_bits,
                                  aitag_dataset **out, aitag_error *err)
{
    *out = NULL;
    if (hash_bits != 0 && (hash_bits < 10 || hash_bits > 30))
        return aitag__fail(err, AITAG_INVALID, "hash bits must be 0 (vocabulary) or 10..30");
    aitag_dataset *d = aitag__calloc(1, sizeof *d);
    if (!d)
        return aitag__fail(err, AITAG_NOMEM, "out of memory creating a dataset");
    aitag_status rc = aitag_tokenizer_create(tp, &d->tok, err);
    if (rc != AITAG_OK) {
        aitag__free(d);
        return rc;
    }
    d->tp = *tp;
    d->hash_bits = hash_bits;
    d->max_labels = AITAG_DEFAULT_MAX_LABELS;
    d->doc_start = aitag__calloc(1, sizeof *d->doc_start);
    d->lab_start = aitag__calloc(1, sizeof *d->lab_start);
    d->docs_cap = 1;
    if (!d->doc_start || !d->lab_start || aitag__strmap_init(&d->terms) != 0 ||
        aitag__strmap_init(&d->labels) != 0) {
        aitag_dataset_free(d);
        return aitag__fail(err, AITAG_NOMEM, "out of memory creating a dataset");
    }
    if (hash_bits) {
        size_t n = (size_t)1 << hash_bits;
        d->df = aitag__calloc(n, sizeof *d->df);
        d->last_doc = aitag__calloc(n, sizeof *d->last_doc);
        d->pos = aitag__calloc(n, sizeof *d->pos);
        d->term_cap = n;
        if (!d->df || !d->last_doc || !d->pos) {
            aitag_dataset_free(d);
            return aitag__fail(err, AITAG_NOMEM, "out of memory for 2^%u hash buckets", hash_bits);
        }
    }
    d->checksum = 0x9e3779b97f4a7c15ULL;
    *out = d;
    return AITAG_OK;
}

void aitag_dataset_free(aitag_dataset *d)
{
    if (!d)
        return;
    aitag_tokenizer_free(d->tok);
    aitag__strmap_free(&d->terms);
    aitag__strmap_free(&d->labels);
    aitag__free(d->doc_start);
    aitag__free(d->tid);
    aitag__free(d->tcnt);
    aitag__free(d->lab_start);
    aitag__free(d->lab);
    aitag__free(d->df);
    aitag__free(d->last_doc);
    aitag__free(d->pos);
    aitag__free(d->pdoc);
    aitag__free(d->pstart);
    aitag__free(d->ptid);
    aitag__free(d->pcnt);
    aitag__free(d->scratch);
    aitag__spans_free(&d->spans);
    aitag__free(d);
}

size_t aitag_dataset_size(const aitag_dataset *d) { return d->n_docs; }
void aitag_dataset_set_label_limit(aitag_dataset *d, uint32_t max_labels) { d->max_labels = max_labels ? max_labels : 1; }
size_t aitag_dataset_num_labels(const aitag_dataset *d) { return d->labels.n; }

static int grow_terms(aitag_dataset *d, size_t need)
{
    size_t c1 = d->term_cap, c2 = d->term_cap, c3 = d->term_cap;
    if (aitag__grow(&d->df, &c1, need, sizeof *d->df) || aitag__grow(&d->last_doc, &c2, need, sizeof *d->last_doc) ||
        aitag__grow(&d->pos, &c3, need, sizeof *d->pos))
        return -1;
    /* new entries start at zero */
    memset(d->df + d->term_cap, 0, (c1 - d->term_cap) * sizeof *d->df);
    memset(d->last_doc + d->term_cap, 0, (c1 - d->term_cap) * sizeof *d->last_doc);
    d->term_cap = c1;
    return 0;
}

static int term_id(aitag_dataset *d, const char *term, size_t len, uint32_t *id);

static int on_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    (void)kind;
    aitag_dataset *d = ud;
    uint32_t id;
    if (d->hash_bits) {
        id = (uint32_t)(aitag__hash_bytes(term, len) & (((uint64_t)1 << d->hash_bits) - 1));
    } else {
        if (term_id(d, term, len, &id) != 0)
            goto oom;
    }
    uint32_t cur = (uint32_t)d->n_docs + 1;
    if (d->last_doc[id] == cur) {
        d->tcnt[d->pos[id]]++;
        return 0;
    }
    if (d->nnz + 1 > d->nnz_cap) {
        size_t c1 = d->nnz_cap, c2 = d->nnz_cap;
        if (aitag__grow(&d->tid, &c1, d->nnz + 1, sizeof *d->tid) ||
            aitag__grow(&d->tcnt, &c2, d->nnz + 1, sizeof *d->tcnt))
            goto oom;
        d->nnz_cap = c1 < c2 ? c1 : c2;
    }
    d->last_doc[id] = cur;
    d->pos[id] = (uint32_t)d->nnz;
    d->tid[d->nnz] = id;
    d->tcnt[d->nnz] = 1;
    d->nnz++;
    d->df[id]++;
    return 0;
oom:
    d->cb_failed = 1;
    return 1;
}

aitag_status aitag_dataset_set_passages(aitag_dataset *d, uint32_t words, aitag_error *err)
{
    if (!d)
        return aitag__fail(err, AITAG_INVALID, "aitag_dataset_set_passages: dataset is NULL");
    if (d->n_docs)
        return aitag__fail(err, AITAG_INVALID, "passages must be set before the first document is added");
    if (words != 0 && (words < 8 || words > 100000))
        return aitag__fail(err, AITAG_INVALID, "passage words must be 0 (off) or 8..100000");
    d->passage_words = words;
    return AITAG_OK;
}

/* Term id of a term, interning it (vocabulary mode) or hashing it. */
static int term_id(aitag_dataset *d, const char *term, size_t len, uint32_t *id)
{
    if (d->hash_bits) {
        *id = (uint32_t)(aitag__hash_bytes(term, len) & (((uint64_t)1 << d->hash_bits) - 1));
        return 0;
    }
    if (aitag__strmap_intern(&d->terms, term, len, id, NULL) != 0)
        return -1;
    return *id >= d->term_cap && grow_terms(d, (size_t)*id + 1) != 0 ? -1 : 0;
}

static int on_passage_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    (void)kind;
    aitag_dataset *d = ud;
    uint32_t id;
    if (term_id(d, term, len, &id) != 0 ||
        (d->n_scratch == d->scratch_cap &&
         aitag__grow(&d->scratch, &d->scratch_cap, d->n_scratch + 1, sizeof *d->scratch) != 0)) {
        d->cb_failed = 1;
        return 1;
    }
    d->scratch[d->n_scratch++] = id;
    return 0;
}

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Appends the scratch ids as one passage row of (id, count). */
static int append_passage_row(aitag_dataset *d)
{
    qsort(d->scratch, d->n_scratch, sizeof *d->scratch, by_u32);
    if (d->n_pass + 2 > d->pass_cap && aitag__grow(&d->pstart, &d->pass_cap, d->n_pass + 2, sizeof *d->pstart))
        return -1;
    for (size_t i = 0; i < d->n_scratch;) {
        size_t j = i;
        while (j < d->n_scratch && d->scratch[j] == d->scratch[i])
            j++;
        if (d->pnnz + 1 > d->pnnz_cap) {
            size_t c1 = d->pnnz_cap, c2 = d->pnnz_cap;
            if (aitag__grow(&d->ptid, &c1, d->pnnz + 1, sizeof *d->ptid) ||
                aitag__grow(&d->pcnt, &c2, d->pnnz + 1, sizeof *d->pcnt))
                return -1;
            d->pnnz_cap = c1 < c2 ? c1 : c2;
        }
        d->ptid[d->pnnz] = d->scratch[i];
        d->pcnt[d->pnnz++] = (uint32_t)(j - i);
        i = j;
    }
    d->pstart[++d->n_pass] = d->pnnz;
    return 0;
}

/* Rows for the passages of the document being added (none for one passage).
 * On failure the caller rolls back to n_pass0 / pnnz0. */
static aitag_status add_passages(aitag_dataset *d, const char *text, size_t len, aitag_error *err)
{
    if (!d->pstart && !(d->pstart = aitag__calloc(d->pass_cap = 2, sizeof *d->pstart)))
        return aitag__fail(err, AITAG_NOMEM, "out of memory for passages");
    if (aitag__passages(text, len, d->passage_words, &d->spans) != 0)
        return aitag__fail(err, AITAG_NOMEM, "out of memory cutting passages");
    for (size_t k = 0; d->spans.n > 1 && k < d->spans.n; k++) {
        const aitag__span *sp = &d->spans.v[k];
        d->n_scratch = 0;
        d->cb_failed = 0;
        aitag_status rc = aitag_tokenize(d->tok, text + sp->start, sp->end - sp->start, on_passage_term, d, NULL, err);
        if (rc != AITAG_OK && !d->cb_failed)
            return rc;
        if (d->cb_failed || append_passage_row(d) != 0)
            return aitag__fail(err, AITAG_NOMEM, "out of memory for passages");
    }
    return AITAG_OK;
}

aitag_status aitag_dataset_add(aitag_dataset *d, const char *text, size_t len,
                               const char *const *labels, size_t n_labels, aitag_error *err)
{
    if (d->n_docs >= UINT32_MAX - 1)
        return aitag__fail(err, AITAG_LIMIT, "too many documents");
    /* labels first, so a bad label leaves the dataset unchanged */
    uint32_t ids[AITAG_MAX_LABELS_PER_DOC];
    size_t nid = 0;
    for (size_t i = 0; i < n_labels; i++) {
        const char *why = aitag__label_problem(labels[i], strlen(labels[i]));
        if (why)
            return aitag__fail(err, AITAG_LABEL, "%s", why);
    }
    if (n_labels > AITAG_MAX_LABELS_PER_DOC)
        return aitag__fail(err, AITAG_LIMIT, "more than %d labels on one document", AITAG_MAX_LABELS_PER_DOC);
    /* how many labels are new: refuse before changing anything */
    size_t n_new = 0;
    for (size_t i = 0; i < n_labels; i++) {
        int dup_new = 0;
        for (size_t j = 0; j < i; j++)
            dup_new |= strcmp(labels[j], labels[i]) == 0;
        if (!dup_new && aitag__strmap_find(&d->labels, labels[i], strlen(labels[i])) < 0)
            n_new++;
    }
    if (d->labels.n + n_new > d->max_labels)
        return aitag__fail(err, AITAG_LIMIT, "more than %u distinct labels (raise the label limit)", d->max_labels);
    const size_t labels_before = d->labels.n;
    for (size_t i = 0; i < n_labels; i++) {
        uint32_t id;
        if (aitag__strmap_intern(&d->labels, labels[i], strlen(labels[i]), &id, NULL) != 0) {
            aitag__strmap_truncate(&d->labels, labels_before);
            return aitag__fail(err, AITAG_NOMEM, "out of memory adding a label");
        }
        int dup = 0;
        for (size_t j = 0; j < nid; j++)
            dup |= ids[j] == id;
        if (!dup)
            ids[nid++] = id;
    }

    if (d->n_docs + 2 > d->docs_cap) {
        size_t c1 = d->docs_cap, c2 = d->docs_cap;
        if (aitag__grow(&d->doc_start, &c1, d->n_docs + 2, sizeof *d->doc_start) ||
            aitag__grow(&d->lab_start, &c2, d->n_docs + 2, sizeof *d->lab_start)) {
            aitag__strmap_truncate(&d->labels, labels_before);
            return aitag__fail(err, AITAG_NOMEM, "out of memory adding a document");
        }
        d->docs_cap = c1 < c2 ? c1 : c2;
    }
    if (aitag__grow(&d->lab, &d->lab_cap, d->n_lab + nid, sizeof *d->lab) != 0) {
        aitag__strmap_truncate(&d->labels, labels_before);
        return aitag__fail(err, AITAG_NOMEM, "out of memory adding a document");
    }

    size_t nnz0 = d->nnz;
    d->cb_failed = 0;
    aitag_status rc = aitag_tokenize(d->tok, text, len, on_term, d, NULL, err);
    if (rc != AITAG_OK || d->cb_failed) {
        /* roll back this document's counts */
        for (size_t i = nnz0; i < d->nnz; i++) {
            d->df[d->tid[i]]--;
            d->last_doc[d->tid[i]] = 0;
        }
        d->nnz = nnz0;
        aitag__strmap_truncate(&d->labels, labels_before);
        return rc != AITAG_OK && rc != AITAG_CANCELLED ? rc
                                                        : aitag__fail(err, AITAG_NOMEM, "out of memory tokenizing a document");
    }
    if (d->passage_words) {
        size_t n_pass0 = d->n_pass, pnnz0 = d->pnnz;
        if (!d->pdoc || d->n_docs + 2 > d->pdoc_cap) {
            if (aitag__grow(&d->pdoc, &d->pdoc_cap, d->n_docs + 2, sizeof *d->pdoc) != 0)
                rc = aitag__fail(err, AITAG_NOMEM, "out of memory for passages");
        }
        if (rc == AITAG_OK) {
            d->pdoc[0] = 0;
            rc = add_passages(d, text, len, err);
        }
        if (rc != AITAG_OK) {
            d->n_pass = n_pass0;
            d->pnnz = pnnz0;
            for (size_t i = nnz0; i < d->nnz; i++) {
                d->df[d->tid[i]]--;
                d->last_doc[d->tid[i]] = 0;
            }
            d->nnz = nnz0;
            aitag__strmap_truncate(&d->labels, labels_before);
            return rc;
        }
        d->pdoc[d->n_docs + 1] = d->n_pass;
    }
    if (nid)
        memcpy(d->lab + d->n_lab, ids, nid * sizeof *ids);
    d->n_lab += nid;
    d->n_docs++;
    d->doc_start[d->n_docs] = d->nnz;
    d->lab_start[d->n_docs] = d->n_lab;

    uint64_t h = d->checksum;
    h = (h ^ aitag__checksum(text, len)) * 0x100000001b3ULL;
    for (size_t i = 0; i < n_labels; i++)
        h = (h ^ aitag__checksum(labels[i], strlen(labels[i]))) * 0x100000001b3ULL;
    d->checksum = h ^ (h >> 31);
    return AITAG_OK;
}
