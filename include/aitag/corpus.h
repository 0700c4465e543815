/*
 * corpus.h: streaming reader of articles, labelled or not.
 *
 * Formats:
 *   jsonl     one JSON object per line: {"id": ..., "title": ..., "text": ...,
 *             "labels": [...]}; "text" is required, "title" is optional and
 *             is joined before the text, "id" (string or number) defaults to
 *             the line number, "labels" is an array of strings.
 *   fasttext  "__label__a __label__b text..." per line.
 *   text      the whole input is one article (id = the file name).
 *   auto      jsonl if the first non-blank byte is '{', fasttext if the input
 *             starts with "__label__", otherwise text.
 * A UTF-8 byte order mark at the start and a CR before each LF are dropped
 * (in every format). A JSON line must hold exactly one
 * object; a string with an escaped NUL (\u0000) is refused.
 *
 * Memory is bounded by the longest line (max_bytes). A bad line is reported
 * with its file name and line number, and the reader goes on to the next.
 */
#ifndef AITAG_CORPUS_H
#define AITAG_CORPUS_H

#include "aitag/export.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aitag/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Labels one article may carry (a reader and a dataset refuse more). */
#define AITAG_MAX_LABELS_PER_DOC 64

typedef enum aitag_input_format {
    AITAG_INPUT_AUTO = 0,
    AITAG_INPUT_JSONL = 1,
    AITAG_INPUT_FASTTEXT = 2,
    AITAG_INPUT_TEXT = 3
} aitag_input_format;

typedef struct aitag_corpus_params {
    aitag_input_format format;  /* default AITAG_INPUT_AUTO */
    size_t max_bytes;           /* longest line (or text file) accepted; default 64 MiB */
    int labels_required;        /* 1 = a jsonl line without "labels" is an error; default 0 */
    /* add new fields here, never in the middle */
} aitag_corpus_params;

AITAG_API aitag_corpus_params aitag_corpus_params_default(void);

/* The format a file's name implies: JSON lines for "-" (standard input) and
 * names ending in .jsonl or .ndjson (any letter case), else one text article. */
AITAG_API aitag_input_format aitag_input_format_for_path(const char *path);

typedef struct aitag_corpus_reader aitag_corpus_reader;

/* Opens path ("-" = standard input). */
AITAG_API aitag_status aitag_corpus_open(const char *path, const aitag_corpus_params *p, aitag_corpus_reader **out,
                               aitag_error *err);
/* Reads from an open stream (not closed by the reader); name is for messages.
 * A stream with a file descriptor is read with read(2), so that a pipe yields
 * records as soon as their lines arrive; do not mix with stdio reads of fp. */
AITAG_API aitag_status aitag_corpus_open_stream(FILE *fp, const char *name, const aitag_corpus_params *p,
                                      aitag_corpus_reader **out, aitag_error *err);
AITAG_API void aitag_corpus_close(aitag_corpus_reader *r); /* NULL is a no-op */

/* Bytes read from the input but not yet returned as records: 0 means the
 * next aitag_corpus_next will have to wait for input (useful to flush a
 * batch before blocking on a slow stream). */
AITAG_API size_t aitag_corpus_buffered(const aitag_corpus_reader *r);

/* The format in use (resolved from auto on the first read). */
AITAG_API aitag_input_format aitag_corpus_format(const aitag_corpus_reader *r);

typedef struct aitag_record {
    uint64_t line;              /* 1-based line number (1 for text) */
    const char *id;             /* NUL-terminated: the input id, or the line number */
    int id_is_number;           /* 1 if the input id was a JSON number */
    const char *text;           /* UTF-8 as given (not NUL-terminated) */
    size_t text_len;
    const char *const *labels;  /* NUL-terminated names */
    size_t n_labels;
    int has_labels;             /* 1 if the record carried a labels field */
    int blank;                  /* 1 if the line was empty (then the status is AITAG_PARSE) */
} aitag_record;

/* Reads the next record; valid until the next call. Returns AITAG_OK,
 * AITAG_END at the end, AITAG_PARSE or AITAG_LIMIT for a bad line (rec->line
 * and, when it could be read, rec->id are set; the next call goes on with
 * the following line), or AITAG_IO when reading failed. */
AITAG_API aitag_status aitag_corpus_next(aitag_corpus_reader *r, aitag_record *rec, aitag_error *err);

/* ---- splitting and parsing apart (for parallel readers) -------------- */

/* The next raw line of a line-format input (jsonl, fasttext; auto resolves
 * first), with a first-line BOM and a final CR removed; valid until the next
 * call. Blank lines are returned too. AITAG_END at the end, AITAG_LIMIT for a
 * line over max_bytes (skipped; *lineno set), AITAG_INVALID for text input. */
AITAG_API aitag_status aitag_corpus_next_line(aitag_corpus_reader *r, const char **line, size_t *n, uint64_t *lineno,
                                    aitag_error *err);

/* Parses lines as aitag_corpus_next does, with state of its own: one parser
 * per thread. The record is valid until the next call on the parser. */
typedef struct aitag_line_parser aitag_line_parser;
AITAG_API aitag_status aitag_line_parser_create(aitag_line_parser **out, aitag_error *err);
AITAG_API void aitag_line_parser_free(aitag_line_parser *p); /* NULL is a no-op */
AITAG_API aitag_status aitag_line_parse(aitag_line_parser *p, aitag_input_format fmt, int labels_required, const char *name,
                              uint64_t lineno, const char *line, size_t n, aitag_record *rec, aitag_error *err);

#ifdef __cplusplus
}
#endif
#endif
