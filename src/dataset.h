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
#include "passage.h"
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

    /* passages (aitag_dataset_set_passages): each document of more than one
     * passage also has one row per passage; a one-passage document has none
     * (its row is its passage's) */
    uint32_t passage_words;   /* 0 = no passage rows */
    size_t *pdoc;             /* n_docs + 1 offsets into pstart */
    size_t pdoc_cap;
    size_t *pstart;           /* n_pass + 1 offsets into ptid/pcnt */
    size_t n_pass, pass_cap;
    uint32_t *ptid, *pcnt;
    size_t pnnz, pnnz_cap;
    uint32_t *scratch;        /* the current passage's term ids */
    size_t n_scratch, scratch_cap;
    aitag__spans spans;

    uint64_t checksum;        /* of texts and labels, in order */
    int cb_failed;            /* out of memory inside the tokenizer callback */
};

#endif
