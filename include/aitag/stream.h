/*
 * stream.h: ordered, multi-threaded classification of many articles.
 *
 *   caller (aitag_stream_add_*) --batches--> N workers (parse, classify,
 *   format) --batches--> one writer (input order) --> write callback
 *
 * The caller's thread reads and splits the input; workers parse JSON lines
 * and classify in parallel; the write callback receives whole output lines,
 * from one thread at a time, in input order, whatever the number of threads.
 * Memory is bounded: at most 2 * threads + 2 batches (each at most `batch`
 * records or 256 KiB of text, plus one record) are in flight; an add call
 * waits while they are all taken.
 *
 * Each input record yields exactly one output line: its result, or an
 * `error` line naming the input, the line and the problem (malformed JSON,
 * no text, a line over the size limit, an input that cannot be read...).
 * Such records are counted in aitag_stream_stats.bad; they do not stop the
 * stream. A write callback that fails, or memory that runs out, stops it:
 * the add and finish calls then return the failure.
 *
 * Output lines (format JSON), the same as `aitag classify` prints:
 *   {"id": ..., "labels": [...], "scores": {...}, "margins": {...},
 *    "explain": {...}, "evidence": {...}}
 *   {"id": ..., "error": "name:line: problem"}
 */
#ifndef AITAG_STREAM_H
#define AITAG_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "aitag/corpus.h"
#include "aitag/export.h"
#include "aitag/model.h"
#include "aitag/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aitag_output_format {
    AITAG_OUTPUT_JSON = 0, /* one JSON object per line */
    AITAG_OUTPUT_TSV = 1,  /* id, tags, their probabilities */
    AITAG_OUTPUT_TEXT = 2  /* "id: tag 0.98, tag 0.61" */
} aitag_output_format;

typedef enum aitag_scores_mode {
    AITAG_SCORES_ALL = 0,  /* every label's probability */
    AITAG_SCORES_TAGS = 1, /* the tags' only */
    AITAG_SCORES_NONE = 2
} aitag_scores_mode;

typedef struct aitag_stream_params {
    uint32_t threads;           /* worker threads, 1..256; default 1 */
    uint32_t batch;             /* records per batch, >= 1; default 1024 (a batch also closes at 256 KiB) */
    aitag_output_format format; /* default JSON */
    aitag_scores_mode scores;   /* default all */
    int margins;                /* 1 = also the raw margins; default 0 */
    uint32_t explain;           /* terms per tag to list; default 0 */
    aitag_classify_opts classify; /* top_k, min_labels, evidence */
    int flush_each;             /* 1 = call flush after every batch; default 0 */
    /* add new fields here, never in the middle */
} aitag_stream_params;

AITAG_API aitag_stream_params aitag_stream_params_default(void);
AITAG_API const char *aitag_stream_params_check(const aitag_stream_params *p); /* NULL = ok */

/* The output sink: data holds whole lines. Return 0, or -1 with errno set to
 * stop the stream (a full disk, a closed pipe, a client gone). flush (may be
 * NULL) is called after a batch when flush_each is set. */
typedef struct aitag_sink {
    int (*write)(void *ud, const char *data, size_t len);
    int (*flush)(void *ud);
    void *ud;
} aitag_sink;

typedef struct aitag_stream_stats {
    uint64_t docs;      /* records that got an output line */
    uint64_t bad;       /* of which error lines */
    uint64_t in_bytes;  /* text bytes classified */
    uint64_t out_bytes; /* bytes given to the sink */
} aitag_stream_stats;

typedef struct aitag_stream aitag_stream;

/* Starts the workers and the writer. m must outlive the stream. */
AITAG_API aitag_status aitag_stream_create(const aitag_model *m, const aitag_stream_params *p, aitag_sink sink,
                                           aitag_stream **out, aitag_error *err);

/* Queues every record of a file ("-" = standard input). cp may be NULL: then
 * "-", *.jsonl and *.ndjson (any letter case) are JSON lines and any other
 * file is one article. A file that cannot be opened or read yields an error
 * line, not a failure. Fails only when the stream has stopped. */
AITAG_API aitag_status aitag_stream_add_file(aitag_stream *s, const char *path, const aitag_corpus_params *cp,
                                             aitag_error *err);

/* Queues JSON lines held in memory (copied); name is used in error lines. */
AITAG_API aitag_status aitag_stream_add_jsonl(aitag_stream *s, const char *name, const char *data, size_t len,
                                              aitag_error *err);

/* The same for a piece of a larger JSON-lines input that starts at line
 * first_line (1-based) of name: ids of records without one and error lines
 * carry the line numbers of the whole input, and a byte-order mark is dropped
 * only when first_line is 1. Pieces of one input classified apart (on other
 * threads, processes or machines) thus print what the whole input would. */
AITAG_API aitag_status aitag_stream_add_jsonl_at(aitag_stream *s, const char *name, uint64_t first_line,
                                                 const char *data, size_t len, aitag_error *err);

/* Queues one article (copied). id (NUL-terminated, may be NULL: the running
 * record number) is echoed as a string. */
AITAG_API aitag_status aitag_stream_add_text(aitag_stream *s, const char *id, const char *text, size_t len,
                                             aitag_error *err);

/* Waits until every queued record is written, stops the threads, fills st
 * (may be NULL) and frees s (NULL is a no-op). Returns the first failure of
 * the stream, if any. */
AITAG_API aitag_status aitag_stream_finish(aitag_stream *s, aitag_stream_stats *st, aitag_error *err);

/* Convenience: classifies JSON lines held in memory and returns the output
 * lines in *out (NUL-terminated, *out_len bytes without the NUL), to be
 * released with aitag_free. */
AITAG_API aitag_status aitag_classify_jsonl(const aitag_model *m, const aitag_stream_params *p, const char *data,
                                            size_t len, char **out, size_t *out_len, aitag_stream_stats *st,
                                            aitag_error *err);

/* The same for n plain texts (ids "0".."n-1"). */
AITAG_API aitag_status aitag_classify_texts(const aitag_model *m, const aitag_stream_params *p,
                                            const char *const *texts, const size_t *lens, size_t n, char **out,
                                            size_t *out_len, aitag_stream_stats *st, aitag_error *err);

/* Releases memory the library returned (aitag_classify_jsonl, aitag_model_save_bytes). */
AITAG_API void aitag_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
