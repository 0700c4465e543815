/* pipeline.h: multi-threaded, order-keeping classification of input streams. */
#ifndef AITAG_PIPELINE_H
#define AITAG_PIPELINE_H

#include <stdint.h>
#include <stdio.h>

#include "aitag/aitag.h"

enum { OUT_JSON = 0, OUT_TSV = 1, OUT_TEXT = 2 };
enum { SCORES_ALL = 0, SCORES_TAGS = 1, SCORES_NONE = 2 };

typedef struct pipeline_opts {
    unsigned threads;          /* worker threads, >= 1 */
    size_t batch;              /* records per batch */
    int format;                /* OUT_* */
    int scores;                /* SCORES_* */
    int margins;               /* 1 = also print raw margins */
    size_t explain;            /* terms per tag to explain; 0 = none */
    aitag_decide_opts decide;
    FILE *out;                 /* NULL = format but discard (benchmarks) */
    int flush_each;            /* flush after every batch */
} pipeline_opts;

typedef struct pipeline_stats {
    uint64_t docs, bad, in_bytes, out_bytes;
    int write_errno;
} pipeline_stats;

/* Classifies every record of every input, writing one line per record in
 * input order. format_given = 0 picks jsonl for "-" and .jsonl/.ndjson files,
 * text (whole file = one article) otherwise. Returns an exit code. */
int pipeline_run(const aitag_model *m, const char *const *inputs, int n_inputs, const aitag_corpus_params *cp,
                 int format_given, const pipeline_opts *o, pipeline_stats *st);

#endif
