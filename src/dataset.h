/*
 * dataset.h: the tokenized training set (internal layout of aitag_dataset).
 *
 * Documents are stored as rows of (term id, count) in compressed sparse row
 * form; term ids are provisional (first-seen order, or hash buckets) until
 * vocab.c prunes and sorts them.
 */
#ifndef AITAG_DATASET_H
#define AITAG_DATASET_H

#include "aitag/train.h"
#include "strmap.h"

struct aitag_dataset {
    aitag_tokenizer *tok;
    aitag_tokenizer_params tp;
    uint32_t hash_bits;
    aitag__strmap terms;      /* provisional id -> term (vocabulary mode) */
    aitag__strmap labels;     /* label id -> name, in first-seen order */
    uint32_t max_labels;

    size_t n_docs, docs_cap;
    size_t *doc_start;        /* n_docs + 1 offsets into tid/tcnt */
    uint32_t *tid, *tcnt;
    size_t nnz, nnz_cap;
    size_t *lab_start;        /* n_docs + 1 offsets into lab */
    uint32_t *lab;
    size_t n_lab, lab_cap;

    uint32_t *df;             /* documents per provisional term */
    uint32_t *last_doc;       /* doc index + 1 where the term was last seen */
    uint32_t *pos;            /* its row position in the current document */
    size_t term_cap;

    uint64_t checksum;        /* of texts and labels, in order */
    int cb_failed;            /* out of memory inside the tokenizer callback */
};

#endif
