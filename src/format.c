/*
 * format.c: results as JSON lines, TSV or text (see aitag/stream.h).
 */
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "internal.h"

#define SNIPPET_BYTES 160

aitag_status aitag__formatter_init(aitag__formatter *f, const aitag_model *m, const aitag_stream_params *p,
                                   aitag_error *err)
{
    memset(f, 0, sizeof *f);
    f->m = m;
    f->p = p;
    size_t K = aitag_model_num_labels(m);
    f->label_json = aitag__calloc(K, sizeof *f->label_json);
    f->ex_ids = aitag__calloc(p->explain + 1, sizeof *f->ex_ids);
    f->ex_val = aitag__calloc(p->explain + 1, sizeof *f->ex_val);
    int oom = !f->label_json || !f->ex_ids || !f->ex_val;
    for (size_t k = 0; !oom && k < K; k++) {
        const char *l = aitag_model_label(m, k);
        aitag__sb_json_string(&f->label_json[k], l, strlen(l));
        oom = f->label_json[k].oom;
    }
    if (oom) {
        aitag__formatter_free(f);
        return aitag__fail(err, AITAG_NOMEM, "out of memory preparing the output");
    }
    return AITAG_OK;
}

void aitag__formatter_free(aitag__formatter *f)
{
    size_t K = f->m ? aitag_model_num_labels(f->m) : 0;
    for (size_t k = 0; f->label_json && k < K; k++)
        aitag__sb_free(&f->label_json[k]);
    aitag__free(f->label_json);
    aitag__free(f->ex_ids);
    aitag__free(f->ex_val);
    memset(f, 0, sizeof *f);
}

static void put_id(aitag__sbuf *b, aitag__id id)
{
    if (id.number)
        aitag__sb_put(b, id.p, id.n);
    else
        aitag__sb_json_string(b, id.p, id.n);
}

static void put_label(const aitag__formatter *f, aitag__sbuf *b, size_t k)
{
    aitag__sb_put(b, f->label_json[k].p, f->label_json[k].len);
}

/* "scores": {...} and "margins": {...} */
static void json_scores(const aitag__formatter *f, aitag__sbuf *b, const aitag_result *r)
{
    const aitag_stream_params *p = f->p;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0 && p->scores == AITAG_SCORES_NONE)
            continue;
        if (pass == 1 && !p->margins)
            continue;
        aitag__sb_puts(b, pass == 0 ? ", \"scores\": {" : ", \"margins\": {");
        /* with --scores none, margins are given for every label */
        int tags_only = p->scores == AITAG_SCORES_TAGS;
        size_t n = tags_only ? r->n_tags : r->n_labels;
        for (size_t j = 0; j < n; j++) {
            size_t k = tags_only ? r->tags[j] : j;
            if (j)
                aitag__sb_put(b, ", ", 2);
            put_label(f, b, k);
            aitag__sb_put(b, ": ", 2);
            aitag__sb_double(b, pass == 0 ? r->probs[k] : r->margins[k], 4);
        }
        aitag__sb_puts(b, "}");
    }
}

static void json_explain(aitag__formatter *f, aitag__sbuf *b, aitag_classifier *c, const aitag_result *r)
{
    aitag_features x;
    aitag__classifier_last_features(c, &x);
    aitag__sb_puts(b, ", \"explain\": {");
    for (size_t j = 0; j < r->n_tags; j++) {
        size_t got = aitag_explain(c, &x, r->tags[j], f->p->explain, f->ex_ids, f->ex_val);
        if (j)
            aitag__sb_puts(b, ", ");
        put_label(f, b, r->tags[j]);
        aitag__sb_puts(b, ": [");
        for (size_t e = 0; e < got; e++) {
            size_t tl = 0;
            const char *t = aitag_model_term(f->m, f->ex_ids[e], &tl);
            char hb[32];
            if (!t) {
                tl = (size_t)snprintf(hb, sizeof hb, "#%u", f->ex_ids[e]);
                t = hb;
            }
            aitag__sb_puts(b, e ? ", [" : "[");
            aitag__sb_json_string(b, t, tl);
            aitag__sb_puts(b, ", ");
            aitag__sb_double(b, f->ex_val[e], 4);
            aitag__sb_puts(b, "]");
        }
        aitag__sb_puts(b, "]");
    }
    aitag__sb_puts(b, "}");
}

static void json_evidence(const aitag__formatter *f, aitag__sbuf *b, const aitag_result *r)
{
    char num[64];
    aitag__sb_puts(b, ", \"evidence\": {");
    for (size_t j = 0; j < r->n_tags; j++) {
        const aitag_evidence *e = &r->evidence[j];
        if (j)
            aitag__sb_puts(b, ", ");
        put_label(f, b, r->tags[j]);
        snprintf(num, sizeof num, ": {\"start\": %zu, \"end\": %zu, \"prob\": ", e->start, e->end);
        aitag__sb_puts(b, num);
        aitag__sb_double(b, e->prob, 4);
        aitag__sb_puts(b, "}");
    }
    aitag__sb_puts(b, "}");
}

/* A short, single-line extract of the passage, cut at a UTF-8 boundary. */
static void snippet(aitag__sbuf *b, const char *text, size_t len, const aitag_evidence *e)
{
    size_t s = e->start < len ? e->start : len, end = e->end < len ? e->end : len;
    while (s < end && (text[s] == ' ' || text[s] == '\n' || text[s] == '\r' || text[s] == '\t'))
        s++;
    size_t n = end - s, cut = n > SNIPPET_BYTES ? SNIPPET_BYTES : n;
    while (cut < n && cut > 0 && ((unsigned char)text[s + cut] & 0xC0) == 0x80)
        cut--;
    aitag__sb_puts(b, " \"");
    aitag__sb_field(b, text + s, cut);
    aitag__sb_puts(b, cut < n ? "...\"" : "\"");
}

static void format_json(aitag__formatter *f, aitag__sbuf *b, aitag__id id, aitag_classifier *c,
                        const aitag_result *r)
{
    aitag__sb_puts(b, "{\"id\": ");
    put_id(b, id);
    aitag__sb_puts(b, ", \"labels\": [");
    for (size_t j = 0; j < r->n_tags; j++) {
        if (j)
            aitag__sb_put(b, ", ", 2);
        put_label(f, b, r->tags[j]);
    }
    aitag__sb_put(b, "]", 1);
    json_scores(f, b, r);
    if (f->p->explain)
        json_explain(f, b, c, r);
    if (r->evidence)
        json_evidence(f, b, r);
    aitag__sb_puts(b, "}\n");
}

static void format_tsv(aitag__formatter *f, aitag__sbuf *b, aitag__id id, const aitag_result *r)
{
    aitag__sb_field(b, id.p, id.n);
    aitag__sb_puts(b, "\t");
    for (size_t j = 0; j < r->n_tags; j++) {
        if (j)
            aitag__sb_puts(b, ",");
        aitag__sb_puts(b, aitag_model_label(f->m, r->tags[j]));
    }
    aitag__sb_puts(b, "\t");
    for (size_t j = 0; j < r->n_tags; j++) {
        if (j)
            aitag__sb_puts(b, ",");
        aitag__sb_double(b, r->probs[r->tags[j]], 4);
    }
    aitag__sb_puts(b, "\n");
}

static void format_text(aitag__formatter *f, aitag__sbuf *b, aitag__id id, aitag_classifier *c,
                        const aitag_result *r)
{
    aitag__sb_field(b, id.p, id.n);
    aitag__sb_puts(b, ":");
    if (!r->n_tags)
        aitag__sb_puts(b, " (no tag)");
    for (size_t j = 0; j < r->n_tags; j++) {
        aitag__sb_puts(b, j ? ", " : " ");
        aitag__sb_puts(b, aitag_model_label(f->m, r->tags[j]));
        aitag__sb_puts(b, " ");
        aitag__sb_double(b, r->probs[r->tags[j]], 2);
    }
    aitag__sb_puts(b, "\n");
    if (!r->evidence)
        return;
    size_t len = 0;
    const char *text = aitag__classifier_last_text(c, &len);
    for (size_t j = 0; j < r->n_tags; j++) {
        aitag__sb_puts(b, "    ");
        aitag__sb_puts(b, aitag_model_label(f->m, r->tags[j]));
        aitag__sb_puts(b, ":");
        snippet(b, text, len, &r->evidence[j]);
        aitag__sb_puts(b, "\n");
    }
}

void aitag__format_result(aitag__formatter *f, aitag__sbuf *b, aitag__id id, aitag_classifier *c,
                          const aitag_result *r)
{
    switch (f->p->format) {
    case AITAG_OUTPUT_TSV:
        format_tsv(f, b, id, r);
        break;
    case AITAG_OUTPUT_TEXT:
        format_text(f, b, id, c, r);
        break;
    default:
        format_json(f, b, id, c, r);
        break;
    }
}

void aitag__format_error(aitag__formatter *f, aitag__sbuf *b, aitag__id id, const char *msg, size_t len)
{
    if (f->p->format == AITAG_OUTPUT_JSON) {
        aitag__sb_puts(b, "{\"id\": ");
        put_id(b, id);
        aitag__sb_puts(b, ", \"error\": ");
        aitag__sb_json_string(b, msg, len);
        aitag__sb_puts(b, "}\n");
    } else {
        aitag__sb_field(b, id.p, id.n);
        aitag__sb_puts(b, f->p->format == AITAG_OUTPUT_TSV ? "\tERROR\t" : ": error: ");
        aitag__sb_field(b, msg, len);
        aitag__sb_puts(b, "\n");
    }
}
