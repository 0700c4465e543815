/*
 * run.c: a request body -> output lines, on the request's own thread.
 *
 * Each server thread keeps a classifier, a line parser and a formatter for
 * the model it last served (a thread-specific value, freed when the thread
 * ends); a reload is noticed by the model's generation. The lines are split,
 * parsed, classified and formatted exactly as the library's stream does for
 * `aitag classify -`, with the same formatter, so the output is the same
 * byte for byte (error lines name the input "<stdin>" too).
 */
#include <stdlib.h>
#include <string.h>

#include "format.h" /* the library's internal formatter, linked statically */
#include "serve.h"

#define INPUT_NAME "<stdin>"

typedef struct thread_ctx {
    srv_holder *h;
    srv_model *sm; /* a reference, held while the context uses the model */
    aitag_classifier *c;
    aitag_line_parser *lp;
    aitag__formatter f;
    aitag_stream_params fp; /* the formatter's sizing: the most terms explain accepts */
} thread_ctx;

static pthread_key_t ctx_key;
static srv_holder *ctx_holder;

static void ctx_clear(thread_ctx *t)
{
    if (t->f.m)
        aitag__formatter_free(&t->f);
    aitag_classifier_free(t->c);
    aitag_line_parser_free(t->lp);
    t->c = NULL;
    t->lp = NULL;
    srv_model_put(t->h, t->sm);
    t->sm = NULL;
}

static void ctx_destroy(void *p)
{
    thread_ctx *t = p;
    ctx_clear(t);
    free(t);
}

int srv_run_init(srv_holder *h)
{
    ctx_holder = h;
    return pthread_key_create(&ctx_key, ctx_destroy) == 0 ? 0 : -1;
}

/* The calling thread's context, set up for sm. */
static thread_ctx *ctx_for(srv_model *sm, aitag_error *err)
{
    thread_ctx *t = pthread_getspecific(ctx_key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t || pthread_setspecific(ctx_key, t) != 0) {
            free(t);
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return NULL;
        }
        t->h = ctx_holder;
    }
    if (t->sm == sm)
        return t;
    ctx_clear(t);
    t->fp = aitag_stream_params_default();
    t->fp.explain = 1000; /* aitag_stream_params_check's maximum */
    if (aitag_classifier_create(sm->m, &t->c, err) != AITAG_OK || aitag_line_parser_create(&t->lp, err) != AITAG_OK ||
        aitag__formatter_init(&t->f, sm->m, &t->fp, err) != AITAG_OK) {
        ctx_clear(t);
        return NULL;
    }
    pthread_mutex_lock(&ctx_holder->mu);
    sm->refs++;
    pthread_mutex_unlock(&ctx_holder->mu);
    t->sm = sm;
    return t;
}

/* One line -> one output line (or, single, a parse failure). */
static int run_line(thread_ctx *t, const srv_query *q, uint64_t ln, const char *line, size_t n, int single,
                    aitag__sbuf *out, srv_run_stats *st, aitag_error *err)
{
    aitag_record in;
    aitag_result res;
    aitag_status s = aitag_line_parse(t->lp, AITAG_INPUT_JSONL, 0, INPUT_NAME, ln, line, n, &in, err);
    aitag__id id = {in.id, strlen(in.id), in.id_is_number};
    if (s == AITAG_OK)
        s = aitag_classify(t->c, in.text, in.text_len, &q->sp.classify, &res, err);
    if (s != AITAG_OK && single)
        return -1;
    st->docs++;
    if (s != AITAG_OK) {
        aitag__format_error(&t->f, out, id, err->msg, strlen(err->msg));
        st->bad++;
        return 0;
    }
    aitag__format_result(&t->f, out, id, t->c, &res);
    return 0;
}

int srv_run_some(srv_model *sm, const srv_query *q, srv_cursor *cur, size_t max_out, aitag__sbuf *out,
                 srv_run_stats *st, aitag_error *err)
{
    thread_ctx *t = ctx_for(sm, err);
    if (!t)
        return -1;
    t->f.p = &q->sp; /* this request's scores, margins and explain (explain <= t->fp.explain) */
    int rc = 0;
    if (cur->single && cur->pos < cur->len) {
        rc = run_line(t, q, 1, cur->body, cur->len, 1, out, st, err);
        cur->pos = cur->len;
    }
    /* split as aitag_stream_add_jsonl does: LF, a CR before it, a BOM first */
    while (!cur->single && cur->pos < cur->len && out->len < max_out && rc == 0 && !out->oom) {
        const char *body = cur->body;
        const char *nl = memchr(body + cur->pos, '\n', cur->len - cur->pos);
        size_t end = nl ? (size_t)(nl - body) : cur->len, n = end - cur->pos;
        const char *line = body + cur->pos;
        cur->pos = nl ? end + 1 : cur->len;
        cur->line++;
        if (n && line[n - 1] == '\r')
            n--;
        if (cur->line == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            n -= 3;
        }
        rc = run_line(t, q, cur->line, line, n, 0, out, st, err);
    }
    t->f.p = &t->fp;
    if (out->oom) {
        snprintf(err->msg, sizeof err->msg, "out of memory formatting the output");
        return -1;
    }
    return rc;
}
