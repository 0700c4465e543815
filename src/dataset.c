/*
 * dataset.c: labelled text -> tokenized rows of (term, count), plus document
 * frequencies. One tokenization pass; texts are not kept.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "dataset.h"
#include "internal.h"

aitag_status aitag_dataset_create(const aitag_tokenizer_params *tp, uint32_t hash_bits,
                                  aitag_dataset **out, aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_dataset_create: out is NULL");
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
    d->max_labels = 4096;
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
    aitag__free(d);
}

size_t aitag_dataset_size(const aitag_dataset *d) { return d ? d->n_docs : 0; }
size_t aitag_dataset_num_labels(const aitag_dataset *d) { return d ? d->labels.n : 0; }

void aitag_dataset_set_label_limit(aitag_dataset *d, uint32_t max_labels)
{
    if (d)
        d->max_labels = max_labels ? max_labels : 1;
}

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

static int on_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    (void)kind;
    aitag_dataset *d = ud;
    uint32_t id;
    if (d->hash_bits) {
        id = (uint32_t)(aitag__hash_bytes(term, len) & (((uint64_t)1 << d->hash_bits) - 1));
    } else {
        if (aitag__strmap_intern(&d->terms, term, len, &id, NULL) != 0)
            goto oom;
        if (id >= d->term_cap && grow_terms(d, (size_t)id + 1) != 0)
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

/* A label is non-empty UTF-8 of at most 255 bytes without control characters. */
static const char *label_problem(const char *s, size_t n)
{
    if (n == 0)
        return "empty label";
    if (n > 255)
        return "label longer than 255 bytes";
    for (size_t i = 0; i < n;) {
        int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0)
            return "label is not valid UTF-8";
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
            return "label contains a control character";
        i += (size_t)k;
    }
    return NULL;
}

static aitag_status add_document(aitag_dataset *d, const char *text, size_t len, const char *const *labels,
                                 size_t n_labels, const uint32_t *ids, size_t nid, aitag_error *err);

/* Interns a document's labels (already NFC) and writes their distinct ids;
 * refuses, before changing anything, more new labels than the limit allows. */
static aitag_status add_labels(aitag_dataset *d, char *const *labels, size_t n_labels, uint32_t *ids, size_t *nid,
                               aitag_error *err)
{
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
        for (size_t j = 0; j < *nid; j++)
            dup |= ids[j] == id;
        if (!dup)
            ids[(*nid)++] = id;
    }
    return AITAG_OK;
}

/* Labels are compared in NFC, as texts are normalised: "caf\u00e9" and
 * "cafe\u0301" are one label. norm[] receives malloc'd copies. */
static aitag_status normalise_labels(const char *const *labels, size_t n_labels, char **norm, aitag_error *err)
{
    for (size_t i = 0; i < n_labels; i++) {
        const char *why = label_problem(labels[i], strlen(labels[i]));
        if (why)
            return aitag__fail(err, AITAG_LABEL, "%s", why);
        norm[i] = (char *)utf8proc_NFC((const utf8proc_uint8_t *)labels[i]);
        if (!norm[i])
            return aitag__fail(err, AITAG_NOMEM, "out of memory normalising a label");
        why = label_problem(norm[i], strlen(norm[i]));
        if (why)
            return aitag__fail(err, AITAG_LABEL, "%s (in NFC)", why);
    }
    return AITAG_OK;
}

aitag_status aitag_dataset_add(aitag_dataset *d, const char *text, size_t len,
                               const char *const *labels, size_t n_labels, aitag_error *err)
{
    if (!d || (!text && len) || (!labels && n_labels))
        return aitag__fail(err, AITAG_INVALID, "aitag_dataset_add: %s is NULL", !d ? "the dataset" : !labels ? "labels" : "text");
    for (size_t i = 0; i < n_labels; i++)
        if (!labels[i])
            return aitag__fail(err, AITAG_INVALID, "aitag_dataset_add: label %zu is NULL", i);
    if (!text)
        text = "";
    if (d->n_docs >= UINT32_MAX - 1)
        return aitag__fail(err, AITAG_LIMIT, "too many documents");
    if (n_labels > 64)
        return aitag__fail(err, AITAG_LIMIT, "more than 64 labels on one document (a fixed limit)");
    /* labels first, so a bad label leaves the dataset unchanged */
    char *norm[64] = {0};
    uint32_t ids[64];
    size_t nid = 0;
    const size_t labels_before = d->labels.n;
    aitag_status rc = normalise_labels(labels, n_labels, norm, err);
    if (rc == AITAG_OK)
        rc = add_labels(d, norm, n_labels, ids, &nid, err);
    if (rc == AITAG_OK)
        rc = add_document(d, text, len, (const char *const *)norm, n_labels, ids, nid, err);
    if (rc != AITAG_OK)
        aitag__strmap_truncate(&d->labels, labels_before);
    for (size_t i = 0; i < n_labels; i++)
        free(norm[i]);
    return rc;
}

/* The document's rows, after its labels were interned (ids[0..nid)). */
static aitag_status add_document(aitag_dataset *d, const char *text, size_t len, const char *const *labels,
                                 size_t n_labels, const uint32_t *ids, size_t nid, aitag_error *err)
{
    if (d->n_docs + 2 > d->docs_cap) {
        size_t c1 = d->docs_cap, c2 = d->docs_cap;
        if (aitag__grow(&d->doc_start, &c1, d->n_docs + 2, sizeof *d->doc_start) ||
            aitag__grow(&d->lab_start, &c2, d->n_docs + 2, sizeof *d->lab_start)) {
            return aitag__fail(err, AITAG_NOMEM, "out of memory adding a document");
        }
        d->docs_cap = c1 < c2 ? c1 : c2;
    }
    if (aitag__grow(&d->lab, &d->lab_cap, d->n_lab + nid, sizeof *d->lab) != 0) {
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
        return rc != AITAG_OK && rc != AITAG_CANCELLED ? rc
                                                        : aitag__fail(err, AITAG_NOMEM, "out of memory tokenizing a document");
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
