/*
 * stream.c: ordered multi-threaded classification (API in aitag/stream.h).
 *
 *   reader (the caller's thread) --batches--> workers (parse, classify,
 *   format) --batches--> writer thread (in sequence order) --> sink
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

#include "aitag/stream.h"
#include "format.h"
#include "internal.h"
#include "sbuf.h"

/* A batch is handed over at `batch` records or at BATCH_BYTES of text,
 * whichever comes first: large enough that the hand-overs (a lock, a
 * wake-up per batch) cost little next to the work, small enough that the
 * workers share the end of an input evenly. AG News x16 (short articles),
 * 2 threads: 64 records (18 KB) a batch took 0.47 s and 0.91 s of CPU,
 * about 300 KB a batch 0.37 s and 0.71 s. */
#define BATCH_BYTES ((size_t)256 << 10)
#define MAX_THREADS 256

typedef struct rec {
    size_t id_off, id_len, text_off, text_len;
    int id_is_number;
    int bad;             /* 1: text holds the error message */
    int raw;             /* 1: text is a raw line the worker parses (JSON or fastText) */
    aitag_input_format fmt;
    const char *name;    /* the input's name, for messages (owned by the stream) */
    uint64_t lineno;
} rec;

typedef struct slot {
    enum { FREE, FILLED, TAKEN, DONE } state;
    aitag__sbuf in;      /* ids and texts */
    rec *recs;
    size_t n, cap;
    aitag__sbuf out;     /* formatted output lines */
    uint64_t bad, in_bytes;
    int oom;             /* a worker ran out of memory formatting this batch */
} slot;

typedef struct worker {
    struct aitag_stream *s;
    aitag_classifier *c;
    aitag_line_parser *lp;
    aitag__formatter f;
} worker;

enum { RUNNING = 0, WRITE_FAILED = 1, OUT_OF_MEMORY = 2 };

struct aitag_stream {
    const aitag_model *m;
    aitag_stream_params p;
    aitag_sink sink;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    size_t n_slots;
    uint64_t next_fill, next_take, next_write;
    int eof, failed, write_errno;
    aitag_stream_stats st;
    worker *ws;
    pthread_t *tid, wtid;
    unsigned started;
    int writer;
    slot *cur;            /* the batch the reader fills */
    char **names;         /* input names, kept until the stream ends */
    size_t n_names, names_cap;
    uint64_t n_texts;     /* records given by aitag_stream_add_text */
};

aitag_stream_params aitag_stream_params_default(void)
{
    aitag_stream_params p;
    memset(&p, 0, sizeof p);
    p.threads = 1;
    p.batch = 1024;
    p.classify = aitag_classify_opts_default();
    return p;
}

const char *aitag_stream_params_check(const aitag_stream_params *p)
{
    if (!p)
        return "no parameters given";
    if (p->threads < 1 || p->threads > MAX_THREADS)
        return "threads must be from 1 to 256";
    if (p->batch < 1)
        return "batch must be at least 1";
    if ((unsigned)p->format > AITAG_OUTPUT_TEXT)
        return "unknown output format";
    if ((unsigned)p->scores > AITAG_SCORES_NONE)
        return "unknown scores mode";
    if (p->explain > 1000)
        return "explain must be at most 1000 terms";
    return NULL;
}

/* ---- workers and writer -------------------------------------------------- */

static int failed(struct aitag_stream *s)
{
    return __atomic_load_n(&s->failed, __ATOMIC_ACQUIRE);
}

static void process_record(worker *w, slot *sl, const rec *r)
{
    const char *text = sl->in.p + r->text_off;
    size_t len = r->text_len;
    aitag__id id = {sl->in.p + r->id_off, r->id_len, r->id_is_number};
    aitag_error err = {0};
    if (r->bad) {
        aitag__format_error(&w->f, &sl->out, id, text, len);
        sl->bad++;
        return;
    }
    if (r->raw) {
        /* the reader only split the line: parsing happens here, in parallel */
        aitag_record in;
        aitag_status ps = aitag_line_parse(w->lp, r->fmt, 0, r->name, r->lineno, text, len, &in, &err);
        id = (aitag__id){in.id, strlen(in.id), in.id_is_number};
        if (ps != AITAG_OK) {
            aitag__format_error(&w->f, &sl->out, id, err.msg, strlen(err.msg));
            sl->bad++;
            return;
        }
        text = in.text;
        len = in.text_len;
    }
    aitag_result res;
    if (aitag_classify(w->c, text, len, &w->s->p.classify, &res, &err) != AITAG_OK) {
        /* reported in place of the result, keeping one line per input */
        aitag__format_error(&w->f, &sl->out, id, err.msg, strlen(err.msg));
        sl->bad++;
        return;
    }
    sl->in_bytes += len;
    size_t mark = sl->out.len;
    aitag__format_result(&w->f, &sl->out, id, w->c, &res);
    if (sl->out.oom) {
        /* no room for this result: an error line in its place, the others stay */
        static const char msg[] = "out of memory writing the result of this record";
        sl->out.len = mark;
        sl->out.oom = 0;
        aitag__format_error(&w->f, &sl->out, id, msg, sizeof msg - 1);
        sl->bad++;
    }
}

static void process(worker *w, slot *sl)
{
    sl->out.len = 0;
    sl->out.oom = 0;
    sl->bad = 0;
    sl->in_bytes = 0;
    for (size_t i = 0; i < sl->n && !sl->out.oom; i++)
        process_record(w, sl, &sl->recs[i]);
    sl->oom = sl->out.oom;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct aitag_stream *s = w->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        slot *sl = NULL;
        while (!s->failed) {
            if (s->next_take < s->next_fill) {
                sl = &s->slots[s->next_take % s->n_slots];
                s->next_take++;
                break;
            }
            if (s->eof)
                break;
            pthread_cond_wait(&s->cv, &s->mu);
        }
        if (!sl)
            break;
        sl->state = TAKEN;
        pthread_mutex_unlock(&s->mu);
        process(w, sl);
        pthread_mutex_lock(&s->mu);
        sl->state = DONE;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int write_batch(struct aitag_stream *s, slot *sl)
{
    if (sl->oom)
        return OUT_OF_MEMORY;
    errno = 0;
    if (sl->out.len && s->sink.write(s->sink.ud, sl->out.p, sl->out.len) != 0)
        return WRITE_FAILED;
    if (s->p.flush_each && s->sink.flush && s->sink.flush(s->sink.ud) != 0)
        return WRITE_FAILED;
    return RUNNING;
}

static void *writer_main(void *arg)
{
    struct aitag_stream *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        slot *sl = &s->slots[s->next_write % s->n_slots];
        while (!s->failed && !(s->next_write < s->next_fill && sl->state == DONE) &&
               !(s->eof && s->next_write == s->next_fill))
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->failed || (s->eof && s->next_write == s->next_fill))
            break;
        pthread_mutex_unlock(&s->mu);
        int why = write_batch(s, sl);
        int e = errno;
        pthread_mutex_lock(&s->mu);
        if (why == RUNNING) {
            s->st.docs += sl->n;
            s->st.bad += sl->bad;
            s->st.in_bytes += sl->in_bytes;
            s->st.out_bytes += sl->out.len;
        } else {
            s->write_errno = e ? e : EIO; /* before the flag, which publishes it */
            __atomic_store_n(&s->failed, why, __ATOMIC_RELEASE);
        }
        sl->state = FREE;
        s->next_write++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- the reader side ----------------------------------------------------- */

static aitag_status stopped(struct aitag_stream *s, aitag_error *err)
{
    if (failed(s) == OUT_OF_MEMORY)
        return aitag__fail(err, AITAG_NOMEM, "out of memory: the stream stopped");
    return aitag__fail(err, AITAG_IO, "error writing output: %s", strerror(s->write_errno ? s->write_errno : EIO));
}

/* The current batch, waiting for a free slot; NULL once the stream failed. */
static slot *current(struct aitag_stream *s)
{
    if (s->cur)
        return s->cur;
    pthread_mutex_lock(&s->mu);
    slot *sl = &s->slots[s->next_fill % s->n_slots];
    while (!s->failed && sl->state != FREE)
        pthread_cond_wait(&s->cv, &s->mu);
    int f = s->failed;
    pthread_mutex_unlock(&s->mu);
    if (f)
        return NULL;
    sl->n = 0;
    sl->in.len = 0;
    sl->in.oom = 0;
    s->cur = sl;
    return sl;
}

static void submit(struct aitag_stream *s)
{
    if (!s->cur || s->cur->n == 0)
        return;
    pthread_mutex_lock(&s->mu);
    s->cur->state = FILLED;
    s->next_fill++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    s->cur = NULL;
}

static void fail_oom(struct aitag_stream *s)
{
    pthread_mutex_lock(&s->mu);
    if (!s->failed)
        __atomic_store_n(&s->failed, OUT_OF_MEMORY, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Appends a record to the current batch; NULL when the stream has stopped. */
static rec *add_rec(struct aitag_stream *s, const char *id, size_t id_len, int id_num, const char *text,
                    size_t len, int bad)
{
    slot *sl = current(s);
    if (!sl)
        return NULL;
    if (sl->n == sl->cap && aitag__grow(&sl->recs, &sl->cap, sl->n + 1, sizeof *sl->recs) != 0) {
        fail_oom(s);
        return NULL;
    }
    rec *r = &sl->recs[sl->n];
    memset(r, 0, sizeof *r);
    r->id_off = sl->in.len;
    r->id_len = id_len;
    r->id_is_number = id_num;
    aitag__sb_put(&sl->in, id, id_len);
    r->text_off = sl->in.len;
    r->text_len = len;
    aitag__sb_put(&sl->in, text, len);
    r->bad = bad;
    if (sl->in.oom) {
        /* no room for this record: the batch so far goes on, and an error
         * line stands for the record (if even that fits) */
        sl->in.len = r->id_off;
        sl->in.oom = 0;
        if (bad || id_len > 256) {
            fail_oom(s);
            return NULL;
        }
        submit(s);
        char msg[160];
        int n = snprintf(msg, sizeof msg, "out of memory holding this record (%zu bytes): it was not classified", len);
        return add_rec(s, id, id_len, id_num, msg, (size_t)n, 1);
    }
    sl->n++;
    return r;
}

/* Hands the batch over when it is full, or when more input would block. */
static void maybe_submit(struct aitag_stream *s, int would_block)
{
    if (s->cur && (s->cur->n >= s->p.batch || s->cur->in.len >= BATCH_BYTES || would_block))
        submit(s);
}

static const char *keep_name(struct aitag_stream *s, const char *name)
{
    if (s->n_names == s->names_cap && aitag__grow(&s->names, &s->names_cap, s->n_names + 1, sizeof *s->names))
        return NULL;
    char *c = aitag__strndup(name, strlen(name));
    if (c)
        s->names[s->n_names++] = c;
    return c;
}

/* A whole input that cannot be read gets one error line of its own. */
static aitag_status add_input_error(struct aitag_stream *s, const char *path, const aitag_error *e, aitag_error *err)
{
    return add_rec(s, path, strlen(path), 0, e->msg, strlen(e->msg), 1) ? AITAG_OK : stopped(s, err);
}

/* Line formats: the reader splits, the workers parse. */
static aitag_status add_lines(struct aitag_stream *s, aitag_corpus_reader *r, const char *path, const char *name,
                              aitag_status *rs, aitag_error *err)
{
    for (;;) {
        const char *line;
        size_t n;
        uint64_t ln;
        aitag_error e = {0};
        *rs = aitag_corpus_next_line(r, &line, &n, &ln, &e);
        if (*rs == AITAG_END || *rs == AITAG_INVALID) /* INVALID: auto-detected as one text article */
            return AITAG_OK;
        if (*rs == AITAG_IO || *rs == AITAG_NOMEM)
            return add_input_error(s, path, &e, err);
        char lnbuf[32];
        size_t lnlen = aitag__u64_dec(lnbuf, ln);
        int bad = *rs != AITAG_OK;
        rec *nr = add_rec(s, lnbuf, lnlen, 0, bad ? e.msg : line, bad ? strlen(e.msg) : n, bad);
        if (!nr)
            return stopped(s, err);
        nr->raw = !nr->bad;
        nr->fmt = aitag_corpus_format(r);
        nr->name = name;
        nr->lineno = ln;
        maybe_submit(s, aitag_corpus_buffered(r) == 0);
    }
}

/* Whole-file articles (and auto-detected text). */
static aitag_status add_records(struct aitag_stream *s, aitag_corpus_reader *r, const char *path, aitag_error *err)
{
    aitag_record in;
    aitag_error e = {0};
    aitag_status rs;
    while ((rs = aitag_corpus_next(r, &in, &e)) != AITAG_END) {
        if (rs == AITAG_IO || rs == AITAG_NOMEM)
            return add_input_error(s, path, &e, err);
        int bad = rs != AITAG_OK;
        if (!add_rec(s, in.id, strlen(in.id), in.id_is_number, bad ? e.msg : in.text,
                     bad ? strlen(e.msg) : in.text_len, bad))
            return stopped(s, err);
        maybe_submit(s, aitag_corpus_buffered(r) == 0);
    }
    return AITAG_OK;
}

aitag_status aitag_stream_add_file(aitag_stream *s, const char *path, const aitag_corpus_params *cp_in,
                                   aitag_error *err)
{
    if (!s || !path)
        return aitag__fail(err, AITAG_INVALID, "aitag_stream_add_file: %s is NULL", s ? "path" : "stream");
    if (failed(s))
        return stopped(s, err);
    aitag_corpus_params cp = cp_in ? *cp_in : aitag_corpus_params_default();
    if (!cp_in)
        cp.format = aitag_input_format_for_path(path);
    const char *name = keep_name(s, strcmp(path, "-") == 0 ? "<stdin>" : path);
    if (!name) {
        fail_oom(s);
        return stopped(s, err);
    }
    aitag_corpus_reader *r = NULL;
    aitag_error e = {0};
    if (aitag_corpus_open(path, &cp, &r, &e) != AITAG_OK)
        return add_input_error(s, path, &e, err);
    aitag_status rs = AITAG_OK, rc = AITAG_OK;
    if (cp.format != AITAG_INPUT_TEXT)
        rc = add_lines(s, r, path, name, &rs, err);
    if (rc == AITAG_OK && (cp.format == AITAG_INPUT_TEXT || rs == AITAG_INVALID))
        rc = add_records(s, r, path, err);
    aitag_corpus_close(r);
    return rc;
}

aitag_status aitag_stream_add_jsonl(aitag_stream *s, const char *name, const char *data, size_t len,
                                    aitag_error *err)
{
    return aitag_stream_add_jsonl_at(s, name, 1, data, len, err);
}

aitag_status aitag_stream_add_jsonl_at(aitag_stream *s, const char *name, uint64_t first_line, const char *data,
                                       size_t len, aitag_error *err)
{
    if (!s || (!data && len))
        return aitag__fail(err, AITAG_INVALID, "aitag_stream_add_jsonl: %s is NULL", s ? "data" : "stream");
    if (first_line < 1 || first_line > UINT64_MAX / 2)
        return aitag__fail(err, AITAG_INVALID, "aitag_stream_add_jsonl_at: first line %llu is out of range",
                           (unsigned long long)first_line);
    if (failed(s))
        return stopped(s, err);
    const char *kept = keep_name(s, name ? name : "<memory>");
    if (!kept) {
        fail_oom(s);
        return stopped(s, err);
    }
    uint64_t ln = first_line - 1;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, n = end - pos;
        const char *line = data + pos;
        pos = nl ? end + 1 : len;
        ln++;
        if (n && line[n - 1] == '\r')
            n--;
        if (ln == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3; /* a byte-order mark on the first line */
            n -= 3;
        }
        char lnbuf[32];
        size_t lnlen = aitag__u64_dec(lnbuf, ln);
        rec *r = add_rec(s, lnbuf, lnlen, 0, line, n, 0);
        if (!r)
            return stopped(s, err);
        r->raw = !r->bad;
        r->fmt = AITAG_INPUT_JSONL;
        r->name = kept;
        r->lineno = ln;
        maybe_submit(s, 0);
    }
    return AITAG_OK;
}

aitag_status aitag_stream_add_text(aitag_stream *s, const char *id, const char *text, size_t len, aitag_error *err)
{
    if (!s || (!text && len))
        return aitag__fail(err, AITAG_INVALID, "aitag_stream_add_text: %s is NULL", s ? "text" : "stream");
    if (failed(s))
        return stopped(s, err);
    char buf[32];
    if (!id) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->n_texts);
        id = buf;
    }
    s->n_texts++;
    if (!add_rec(s, id, strlen(id), 0, text ? text : "", len, 0))
        return stopped(s, err);
    maybe_submit(s, 0);
    return AITAG_OK;
}

/* ---- life cycle ---------------------------------------------------------- */

static void stream_free(struct aitag_stream *s)
{
    for (unsigned i = 0; s->ws && i < s->p.threads; i++) {
        aitag_classifier_free(s->ws[i].c);
        aitag_line_parser_free(s->ws[i].lp);
        aitag__formatter_free(&s->ws[i].f);
    }
    for (size_t i = 0; s->slots && i < s->n_slots; i++) {
        aitag__sb_free(&s->slots[i].in);
        aitag__sb_free(&s->slots[i].out);
        aitag__free(s->slots[i].recs);
    }
    for (size_t i = 0; i < s->n_names; i++)
        aitag__free(s->names[i]);
    aitag__free(s->names);
    if (s->slots) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    aitag__free(s->slots);
    aitag__free(s->ws);
    aitag__free(s->tid);
    aitag__free(s);
}

/* Waits for the threads; 1 if all of them had started. */
static void stop_threads(struct aitag_stream *s)
{
    pthread_mutex_lock(&s->mu);
    s->eof = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->started; i++)
        pthread_join(s->tid[i], NULL);
    if (s->writer)
        pthread_join(s->wtid, NULL);
    s->started = 0;
    s->writer = 0;
}

static aitag_status start_threads(struct aitag_stream *s, aitag_error *err)
{
    int e = 0;
    for (unsigned i = 0; i < s->p.threads; i++) {
        if ((e = pthread_create(&s->tid[i], NULL, worker_main, &s->ws[i])) != 0)
            break;
        s->started++;
    }
    if (s->started == s->p.threads && (e = pthread_create(&s->wtid, NULL, writer_main, s)) == 0)
        s->writer = 1;
    if (s->writer)
        return AITAG_OK;
    __atomic_store_n(&s->failed, OUT_OF_MEMORY, __ATOMIC_RELEASE);
    stop_threads(s);
    return aitag__fail(err, e == EAGAIN ? AITAG_LIMIT : AITAG_INVALID, "cannot start a thread: %s", strerror(e));
}

aitag_status aitag_stream_create(const aitag_model *m, const aitag_stream_params *p, aitag_sink sink,
                                 aitag_stream **out, aitag_error *err)
{
    if (!out)
        return aitag__fail(err, AITAG_INVALID, "aitag_stream_create: out is NULL");
    *out = NULL;
    const char *why = !m ? "no model given" : !sink.write ? "no write function given" : aitag_stream_params_check(p);
    if (why)
        return aitag__fail(err, AITAG_INVALID, "aitag_stream_create: %s", why);
    struct aitag_stream *s = aitag__calloc(1, sizeof *s);
    if (!s)
        return aitag__fail(err, AITAG_NOMEM, "out of memory starting a stream");
    s->m = m;
    s->p = *p;
    s->sink = sink;
    s->n_slots = 2 * (size_t)p->threads + 2;
    s->slots = aitag__calloc(s->n_slots, sizeof *s->slots);
    s->ws = aitag__calloc(p->threads, sizeof *s->ws);
    s->tid = aitag__calloc(p->threads, sizeof *s->tid);
    if (!s->slots || !s->ws || !s->tid) {
        aitag__free(s->slots);
        s->slots = NULL;
        stream_free(s);
        return aitag__fail(err, AITAG_NOMEM, "out of memory starting a stream");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    aitag_status rc = AITAG_OK;
    for (unsigned i = 0; i < p->threads && rc == AITAG_OK; i++) {
        s->ws[i].s = s;
        rc = aitag_classifier_create(m, &s->ws[i].c, err);
        if (rc == AITAG_OK)
            rc = aitag_line_parser_create(&s->ws[i].lp, err);
        if (rc == AITAG_OK)
            rc = aitag__formatter_init(&s->ws[i].f, m, p, err);
    }
    if (rc == AITAG_OK)
        rc = start_threads(s, err);
    if (rc != AITAG_OK) {
        stream_free(s);
        return rc;
    }
    *out = s;
    return AITAG_OK;
}

aitag_status aitag_stream_finish(aitag_stream *s, aitag_stream_stats *st, aitag_error *err)
{
    if (st)
        memset(st, 0, sizeof *st);
    if (!s)
        return AITAG_OK;
    if (!failed(s))
        submit(s);
    stop_threads(s);
    aitag_status rc = failed(s) ? stopped(s, err) : AITAG_OK;
    if (st)
        *st = s->st;
    stream_free(s);
    return rc;
}

/* ---- in memory ------------------------------------------------------------ */

static int sb_sink_write(void *ud, const char *data, size_t len)
{
    aitag__sbuf *b = ud;
    aitag__sb_put(b, data, len);
    if (b->oom) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static aitag_status collect(aitag_stream *s, aitag__sbuf *b, aitag_status rc, char **out, size_t *out_len,
                            aitag_stream_stats *st, aitag_error *err)
{
    aitag_status frc = aitag_stream_finish(s, st, rc == AITAG_OK ? err : NULL);
    if (rc == AITAG_OK)
        rc = frc;
    if (rc == AITAG_OK) {
        aitag__sb_put(b, "", 1); /* the NUL */
        if (b->oom)
            rc = aitag__fail(err, AITAG_NOMEM, "out of memory collecting the output");
    }
    if (rc != AITAG_OK) {
        aitag__sb_free(b);
        if (b->oom || rc == AITAG_NOMEM)
            return rc == AITAG_NOMEM ? rc : aitag__fail(err, AITAG_NOMEM, "out of memory collecting the output");
        return rc;
    }
    *out = b->p;
    *out_len = b->len - 1;
    return AITAG_OK;
}

aitag_status aitag_classify_jsonl(const aitag_model *m, const aitag_stream_params *p, const char *data, size_t len,
                                  char **out, size_t *out_len, aitag_stream_stats *st, aitag_error *err)
{
    if (!out || !out_len)
        return aitag__fail(err, AITAG_INVALID, "aitag_classify_jsonl: no output given");
    *out = NULL;
    *out_len = 0;
    aitag__sbuf b = {0};
    aitag_stream *s = NULL;
    aitag_sink sink = {sb_sink_write, NULL, &b};
    aitag_status rc = aitag_stream_create(m, p, sink, &s, err);
    if (rc != AITAG_OK)
        return rc;
    rc = aitag_stream_add_jsonl(s, "<memory>", data, len, err);
    return collect(s, &b, rc, out, out_len, st, err);
}

aitag_status aitag_classify_texts(const aitag_model *m, const aitag_stream_params *p, const char *const *texts,
                                  const size_t *lens, size_t n, char **out, size_t *out_len, aitag_stream_stats *st,
                                  aitag_error *err)
{
    if (!out || !out_len || (n && (!texts || !lens)))
        return aitag__fail(err, AITAG_INVALID, "aitag_classify_texts: NULL argument");
    *out = NULL;
    *out_len = 0;
    aitag__sbuf b = {0};
    aitag_stream *s = NULL;
    aitag_sink sink = {sb_sink_write, NULL, &b};
    aitag_status rc = aitag_stream_create(m, p, sink, &s, err);
    for (size_t i = 0; rc == AITAG_OK && i < n; i++)
        rc = aitag_stream_add_text(s, NULL, texts[i], lens[i], err);
    if (rc != AITAG_OK && !s)
        return rc;
    return collect(s, &b, rc, out, out_len, st, err);
}

void aitag_free(void *p) { aitag__free(p); }
