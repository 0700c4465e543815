/*
 * format.h: one classification result (or error) as one output line, in the
 * stream's format (internal; used by stream.c).
 */
#ifndef AITAG_FORMAT_H
#define AITAG_FORMAT_H

#include "aitag/stream.h"
#include "sbuf.h"

/* An article's id as written: printed as a JSON number when it was one. */
typedef struct aitag__id {
    const char *p;
    size_t n;
    int number;
} aitag__id;

/* Per-thread formatting state: the labels as JSON strings (escaped once) and
 * the explanation scratch. */
typedef struct aitag__formatter {
    const aitag_model *m;
    const aitag_stream_params *p;
    aitag__sbuf *label_json;     /* one per label */
    uint32_t *ex_ids;
    double *ex_val;
} aitag__formatter;

aitag_status aitag__formatter_init(aitag__formatter *f, const aitag_model *m, const aitag_stream_params *p,
                                   aitag_error *err);
void aitag__formatter_free(aitag__formatter *f);

/* Appends the result line; c is the classifier that produced r (for explain). */
void aitag__format_result(aitag__formatter *f, aitag__sbuf *b, aitag__id id, aitag_classifier *c,
                          const aitag_result *r);
void aitag__format_error(aitag__formatter *f, aitag__sbuf *b, aitag__id id, const char *msg, size_t len);

/* The features of the last text c classified (internal accessor of classify.c). */
void aitag__classifier_last_features(aitag_classifier *c, aitag_features *x);
/* The text c last classified, as given to aitag_classify (for evidence snippets). */
const char *aitag__classifier_last_text(aitag_classifier *c, size_t *len);

#endif
