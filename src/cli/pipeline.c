/*
 * pipeline.c: streaming classification with N worker threads, output in
 * input order, in bounded memory.
 *
 *   reader (calling thread) --batches--> workers (featurize, score, decide,
 *   format) --batches--> writer thread (in sequence order) --> out
 *
 * Batches live in a ring of 2 * threads + 2 slots; the reader waits for a
 * free slot, so at most that many batches (each at most `batch` records or
 * 4 MiB of text, plus one record) are in memory whatever the stream length.
 * A batch is handed over early when the reader would otherwise block on
 * input, so a slow interactive stream still gets prompt answers.
 * One model serves every thread read-only; each worker has its own
 * aitag_classifier (scratch buffers).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"

#define BATCH_BYTES ((size_t)4 << 20)

typedef struct rec {
    size_t id_off, id_len, text_off, text_len;
    int id_is_number;
    int bad;             /* 1: text holds the error message */
    int raw;             /* 1: text is a raw line the worker parses (JSON or fastText) */
    aitag_input_format fmt;
    const char *name;    /* the input's name, for messages */
    uint64_t lineno;
} rec;

typedef struct idref {
    const char *p;
    size_t n;
    int number;          /* 1: print as a JSON number */
} idref;

typedef struct slot {
    enum { FREE, FILLED, TAKEN, DONE } state;
    uint64_t seq;
    sbuf in;             /* ids and texts */
    rec *recs;
    size_t n, cap;
    sbuf out;            /* formatted output lines */
    uint64_t bad;
} slot;

typedef struct shared {
    const aitag_model *m;
    const pipeline_opts *o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    size_t n_slots;
    uint64_t next_fill, next_take, next_write;
    int eof, failed;
    pipeline_stats st;
    sbuf *label_json;        /* each label as a JSON string, quoted and escaped once */
} shared;

/* ---- formatting ---------------------------------------------------------- */

typedef struct worker {
    shared *sh;
    aitag_classifier *c;
    aitag_line_parser *lp;
    double *margins, *probs;
    uint32_t *tags, *ex_ids;
    double *ex_val;
} worker;

static void put_id(sbuf *b, idref id)
{
    if (id.number)
        sb_put(b, id.p, id.n);
    else
        sb_json_string(b, id.p, id.n);
}

static void format_error(const pipeline_opts *o, sbuf *b, idref id, const char *msg, size_t msg_len)
{
    if (o->format == OUT_JSON) {
        sb_puts(b, "{\"id\": ");
        put_id(b, id);
        sb_puts(b, ", \"error\": ");
        sb_json_string(b, msg, msg_len);
        sb_puts(b, "}\n");
    } else {
        sb_field(b, id.p, id.n);
        sb_puts(b, o->format == OUT_TSV ? "\tERROR\t" : ": error: ");
        sb_field(b, msg, msg_len);
        sb_puts(b, "\n");
    }
}

static void format_result(worker *w, sbuf *b, idref id, const aitag_features *x, size_t ntags)
{
    const aitag_model *m = w->sh->m;
    const pipeline_opts *o = w->sh->o;
    const size_t K = aitag_model_num_labels(m);
    if (o->format == OUT_JSON) {
        sb_puts(b, "{\"id\": ");
        put_id(b, id);
        sb_puts(b, ", \"labels\": [");
        const sbuf *lj = w->sh->label_json;
        for (size_t j = 0; j < ntags; j++) {
            if (j)
                sb_put(b, ", ", 2);
            sb_put(b, lj[w->tags[j]].p, lj[w->tags[j]].len);
        }
        sb_put(b, "]", 1);
        for (int pass = 0; pass < 2; pass++) {
            if (o->scores == SCORES_NONE || (pass == 1 && !o->margins))
                continue;
            sb_puts(b, pass == 0 ? ", \"scores\": {" : ", \"margins\": {");
            size_t n = o->scores == SCORES_TAGS ? ntags : K;
            for (size_t j = 0; j < n; j++) {
                size_t k = o->scores == SCORES_TAGS ? w->tags[j] : j;
                if (j)
                    sb_put(b, ", ", 2);
                sb_put(b, lj[k].p, lj[k].len);
                sb_put(b, ": ", 2);
                sb_double(b, pass == 0 ? w->probs[k] : w->margins[k], 4);
            }
            sb_puts(b, "}");
        }
        if (o->explain) {
            sb_puts(b, ", \"explain\": {");
            for (size_t j = 0; j < ntags; j++) {
                size_t got = aitag_explain(w->c, x, w->tags[j], o->explain, w->ex_ids, w->ex_val);
                const char *l = aitag_model_label(m, w->tags[j]);
                if (j)
                    sb_puts(b, ", ");
                sb_json_string(b, l, strlen(l));
                sb_puts(b, ": [");
                for (size_t e = 0; e < got; e++) {
                    size_t tl = 0;
                    const char *t = aitag_model_term(m, w->ex_ids[e], &tl);
                    char hb[32];
                    if (!t) {
                        tl = (size_t)snprintf(hb, sizeof hb, "#%u", w->ex_ids[e]);
                        t = hb;
                    }
                    sb_puts(b, e ? ", [" : "[");
                    sb_json_string(b, t, tl);
                    sb_puts(b, ", ");
                    sb_double(b, w->ex_val[e], 4);
                    sb_puts(b, "]");
                }
                sb_puts(b, "]");
            }
            sb_puts(b, "}");
        }
        sb_puts(b, "}\n");
    } else if (o->format == OUT_TSV) {
        sb_field(b, id.p, id.n);
        sb_puts(b, "\t");
        for (size_t j = 0; j < ntags; j++) {
            if (j)
                sb_puts(b, ",");
            sb_puts(b, aitag_model_label(m, w->tags[j]));
        }
        sb_puts(b, "\t");
        for (size_t j = 0; j < ntags; j++) {
            if (j)
                sb_puts(b, ",");
            sb_double(b, w->probs[w->tags[j]], 4);
        }
        sb_puts(b, "\n");
    } else {
        sb_field(b, id.p, id.n);
        sb_puts(b, ":");
        if (!ntags)
            sb_puts(b, " (no tag)");
        for (size_t j = 0; j < ntags; j++) {
            sb_puts(b, j ? ", " : " ");
            sb_puts(b, aitag_model_label(m, w->tags[j]));
            sb_puts(b, " ");
            sb_double(b, w->probs[w->tags[j]], 2);
        }
        sb_puts(b, "\n");
    }
}

static void process(worker *w, slot *s)
{
    const pipeline_opts *o = w->sh->o;
    s->out.len = 0;
    s->bad = 0;
    for (size_t i = 0; i < s->n; i++) {
        const rec *r = &s->recs[i];
        const char *text = s->in.p + r->text_off;
        size_t len = r->text_len;
        idref id = {s->in.p + r->id_off, r->id_len, r->id_is_number};
        aitag_error err = {0};
        if (r->bad) {
            format_error(o, &s->out, id, text, len);
            s->bad++;
            continue;
        }
        if (r->raw) {
            /* the reader only split the line: parsing happens here, in parallel */
            aitag_record in;
            aitag_status ps = aitag_line_parse(w->lp, r->fmt, 0, r->name, r->lineno, text, len, &in, &err);
            id = (idref){in.id, strlen(in.id), in.id_is_number};
            if (ps != AITAG_OK) {
                format_error(o, &s->out, id, err.msg, strlen(err.msg));
                s->bad++;
                continue;
            }
            text = in.text;
            len = in.text_len;
        }
        aitag_features x;
        if (aitag_featurize(w->c, text, len, &x, NULL, &err) != AITAG_OK) {
            /* reported in place of the result, keeping one line per input */
            format_error(o, &s->out, id, err.msg, strlen(err.msg));
            s->bad++;
            continue;
        }
        aitag_score(w->c, &x, w->margins);
        size_t nt = aitag_decide(w->sh->m, w->margins, &o->decide, w->tags, w->probs);
        format_result(w, &s->out, id, &x, nt);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        slot *s = NULL;
        while (!sh->failed) {
            if (sh->next_take < sh->next_fill) {
                s = &sh->slots[sh->next_take % sh->n_slots];
                sh->next_take++;
                break;
            }
            if (sh->eof)
                break;
            pthread_cond_wait(&sh->cv, &sh->mu);
        }
        if (!s)
            break;
        s->state = TAKEN;
        pthread_mutex_unlock(&sh->mu);
        process(w, s);
        pthread_mutex_lock(&sh->mu);
        s->state = DONE;
        pthread_cond_broadcast(&sh->cv);
    }
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

static void *writer_main(void *arg)
{
    shared *sh = arg;
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        slot *s = &sh->slots[sh->next_write % sh->n_slots];
        while (!sh->failed && !(sh->next_write < sh->next_fill && s->state == DONE) &&
               !(sh->eof && sh->next_write == sh->next_fill))
            pthread_cond_wait(&sh->cv, &sh->mu);
        if (sh->failed || (sh->eof && sh->next_write == sh->next_fill))
            break;
        pthread_mutex_unlock(&sh->mu);
        int ok = s->out.oom == 0;
        if (ok && sh->o->out) {
            ok = fwrite(s->out.p, 1, s->out.len, sh->o->out) == s->out.len;
            if (ok && sh->o->flush_each)
                ok = fflush(sh->o->out) == 0;
        }
        pthread_mutex_lock(&sh->mu);
        sh->st.docs += s->n;
        sh->st.bad += s->bad;
        sh->st.out_bytes += s->out.len;
        if (!ok) {
            sh->failed = s->out.oom ? 2 : 1;
            sh->st.write_errno = errno;
        }
        s->state = FREE;
        sh->next_write++;
        pthread_cond_broadcast(&sh->cv);
    }
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

/* ---- reader side --------------------------------------------------------- */

static slot *acquire(shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    slot *s = &sh->slots[sh->next_fill % sh->n_slots];
    while (!sh->failed && s->state != FREE)
        pthread_cond_wait(&sh->cv, &sh->mu);
    pthread_mutex_unlock(&sh->mu);
    if (sh->failed)
        return NULL;
    s->n = 0;
    s->in.len = 0;
    return s;
}

static void submit(shared *sh, slot *s)
{
    pthread_mutex_lock(&sh->mu);
    s->state = FILLED;
    s->seq = sh->next_fill++;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
}

static rec *add_rec(slot *s, const char *id, size_t id_len, int id_num, const char *text, size_t len, int bad)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        rec *p = realloc(s->recs, cap * sizeof *p);
        if (!p)
            return NULL;
        s->recs = p;
        s->cap = cap;
    }
    rec *r = &s->recs[s->n];
    r->id_off = s->in.len;
    r->id_len = id_len;
    r->id_is_number = id_num;
    sb_put(&s->in, id, id_len);
    r->text_off = s->in.len;
    r->text_len = len;
    sb_put(&s->in, text, len);
    r->bad = bad;
    r->raw = 0;
    if (s->in.oom)
        return NULL;
    s->n++;
    return r;
}

static int is_jsonl_name(const char *p)
{
    size_t n = strlen(p);
    return (n > 6 && strcmp(p + n - 6, ".jsonl") == 0) || (n > 7 && strcmp(p + n - 7, ".ndjson") == 0);
}

int pipeline_run(const aitag_model *m, const char *const *inputs, int n_inputs, const aitag_corpus_params *cp_in,
                 int format_given, const pipeline_opts *o, pipeline_stats *st)
{
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.m = m;
    sh.o = o;
    unsigned T = o->threads ? o->threads : 1;
    sh.n_slots = 2 * (size_t)T + 2;
    sh.slots = calloc(sh.n_slots, sizeof *sh.slots);
    worker *ws = calloc(T, sizeof *ws);
    pthread_t *tid = calloc(T, sizeof *tid);
    pthread_t wtid;
    int rc = EXIT_OK, started = 0, writer = 0;
    size_t K = aitag_model_num_labels(m);
    if (!sh.slots || !ws || !tid) {
        cli_err("out of memory");
        rc = EXIT_FAIL;
        goto cleanup;
    }
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    sh.label_json = calloc(K, sizeof *sh.label_json);
    for (size_t k = 0; sh.label_json && k < K; k++) {
        const char *l = aitag_model_label(m, k);
        sb_json_string(&sh.label_json[k], l, strlen(l));
        if (sh.label_json[k].oom) {
            cli_err("out of memory");
            rc = EXIT_FAIL;
            goto cleanup;
        }
    }
    if (!sh.label_json) {
        cli_err("out of memory");
        rc = EXIT_FAIL;
        goto cleanup;
    }
    for (unsigned i = 0; i < T; i++) {
        aitag_error err = {0};
        ws[i].sh = &sh;
        ws[i].margins = calloc(K, sizeof(double));
        ws[i].probs = calloc(K, sizeof(double));
        ws[i].tags = calloc(K, sizeof(uint32_t));
        ws[i].ex_ids = calloc(o->explain + 1, sizeof(uint32_t));
        ws[i].ex_val = calloc(o->explain + 1, sizeof(double));
        if (!ws[i].margins || !ws[i].probs || !ws[i].tags || !ws[i].ex_ids || !ws[i].ex_val ||
            aitag_classifier_create(m, &ws[i].c, &err) != AITAG_OK ||
            aitag_line_parser_create(&ws[i].lp, &err) != AITAG_OK) {
            cli_err("%s", err.msg[0] ? err.msg : "out of memory");
            rc = EXIT_FAIL;
            goto cleanup;
        }
    }
    for (unsigned i = 0; i < T; i++) {
        if (pthread_create(&tid[i], NULL, worker_main, &ws[i]) != 0)
            break;
        started++;
    }
    if (started == 0 || pthread_create(&wtid, NULL, writer_main, &sh) != 0) {
        cli_err("cannot start threads");
        rc = EXIT_FAIL;
        sh.failed = 1;
    } else {
        writer = 1;
    }

    slot *s = writer ? acquire(&sh) : NULL;
    for (int f = 0; s && f < n_inputs; f++) {
        aitag_corpus_params cp = *cp_in;
        if (!format_given)
            cp.format = (strcmp(inputs[f], "-") == 0 || is_jsonl_name(inputs[f])) ? AITAG_INPUT_JSONL : AITAG_INPUT_TEXT;
        aitag_corpus_reader *r = NULL;
        aitag_error err = {0};
        if (aitag_corpus_open(inputs[f], &cp, &r, &err) != AITAG_OK) {
            /* one error line stands for the input that could not be read */
            if (!add_rec(s, inputs[f], strlen(inputs[f]), 0, err.msg, strlen(err.msg), 1))
                goto oom;
            continue;
        }
        const char *name = strcmp(inputs[f], "-") == 0 ? "<stdin>" : inputs[f];
        aitag_status rs = AITAG_OK;
        while (s && cp.format != AITAG_INPUT_TEXT) {
            /* line formats: split here, parse in the workers */
            const char *line;
            size_t n;
            uint64_t ln;
            rs = aitag_corpus_next_line(r, &line, &n, &ln, &err);
            if (rs == AITAG_END || rs == AITAG_INVALID) /* INVALID: auto-detected as one text article */
                break;
            if (rs == AITAG_IO || rs == AITAG_NOMEM) {
                /* an input that cannot be read further gets an error line of its own */
                if (!add_rec(s, inputs[f], strlen(inputs[f]), 0, err.msg, strlen(err.msg), 1)) {
                    aitag_corpus_close(r);
                    goto oom;
                }
                break;
            }
            char lnbuf[32];
            int lnlen = snprintf(lnbuf, sizeof lnbuf, "%llu", (unsigned long long)ln);
            int bad = rs != AITAG_OK;
            rec *nr = add_rec(s, lnbuf, (size_t)lnlen, 0, bad ? err.msg : line, bad ? strlen(err.msg) : n, bad);
            if (!nr) {
                aitag_corpus_close(r);
                goto oom;
            }
            nr->raw = !bad;
            nr->fmt = aitag_corpus_format(r);
            nr->name = name;
            nr->lineno = ln;
            sh.st.in_bytes += bad ? 0 : n;
            if (s->n >= o->batch || s->in.len >= BATCH_BYTES || aitag_corpus_buffered(r) == 0) {
                submit(&sh, s);
                s = acquire(&sh);
            }
        }
        aitag_record in;
        while (s && (cp.format == AITAG_INPUT_TEXT || rs == AITAG_INVALID) &&
               (rs = aitag_corpus_next(r, &in, &err)) != AITAG_END) {
            if (rs == AITAG_IO || rs == AITAG_NOMEM) {
                if (!add_rec(s, inputs[f], strlen(inputs[f]), 0, err.msg, strlen(err.msg), 1)) {
                    aitag_corpus_close(r);
                    goto oom;
                }
                break;
            }
            int bad = rs != AITAG_OK;
            const char *text = bad ? err.msg : in.text;
            size_t len = bad ? strlen(err.msg) : in.text_len;
            if (!add_rec(s, in.id, strlen(in.id), in.id_is_number, text, len, bad)) {
                aitag_corpus_close(r);
                goto oom;
            }
            sh.st.in_bytes += bad ? 0 : in.text_len;
            if (s->n >= o->batch || s->in.len >= BATCH_BYTES || aitag_corpus_buffered(r) == 0) {
                submit(&sh, s);
                s = acquire(&sh);
            }
        }
        aitag_corpus_close(r);
    }
    if (s && s->n)
        submit(&sh, s);
    goto finish;
oom:
    cli_err("out of memory reading input");
    rc = EXIT_FAIL;
    pthread_mutex_lock(&sh.mu);
    sh.failed = 2;
    pthread_mutex_unlock(&sh.mu);
finish:
    pthread_mutex_lock(&sh.mu);
    sh.eof = 1;
    pthread_cond_broadcast(&sh.cv);
    pthread_mutex_unlock(&sh.mu);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    if (writer)
        pthread_join(wtid, NULL);
    if (sh.failed == 1) {
        cli_err("error writing output: %s", strerror(sh.st.write_errno ? sh.st.write_errno : EIO));
        if (o->out == stdout)
            cli_output_error_reported();
        rc = EXIT_FAIL;
    } else if (sh.failed) {
        rc = EXIT_FAIL;
    }
cleanup:
    for (unsigned i = 0; ws && i < T; i++) {
        aitag_classifier_free(ws[i].c);
        aitag_line_parser_free(ws[i].lp);
        free(ws[i].margins);
        free(ws[i].probs);
        free(ws[i].tags);
        free(ws[i].ex_ids);
        free(ws[i].ex_val);
    }
    for (size_t i = 0; sh.slots && i < sh.n_slots; i++) {
        sb_free(&sh.slots[i].in);
        sb_free(&sh.slots[i].out);
        free(sh.slots[i].recs);
    }
    for (size_t k = 0; sh.label_json && k < K; k++)
        sb_free(&sh.label_json[k]);
    free(sh.label_json);
    if (sh.slots) {
        pthread_mutex_destroy(&sh.mu);
        pthread_cond_destroy(&sh.cv);
    }
    free(sh.slots);
    free(ws);
    free(tid);
    if (st)
        *st = sh.st;
    return rc;
}
