/*
 * fuzz_corpus.c: libFuzzer target for the corpus reader (aitag_corpus_*).
 *
 * Input layout: byte 0 picks the format (bits 0-1), max_bytes (bits 2-4) and
 * labels_required (bit 5); byte 1 picks how the stream is delivered; the rest
 * is the stream. The input is always read once from fmemopen (a FILE without
 * a descriptor: the reader's fread path) as the reference, then, by byte 1:
 *   (b & 3) == 1  a stream that fails with a read error after (b >> 2)/63 of
 *                 the input: the records before the error must be the
 *                 reference's first ones;
 *   (b & 3) == 2  a memfd (a descriptor: the read(2) path);
 *   (b & 3) == 3  a pipe fed by a thread in pieces of 1 + (b >> 2) bytes, so
 *                 lines arrive split across reads;
 *   b >= 0xF0     one filler line of 'x' first, sized so that the end of
 *                 the reader's first 256 KiB read falls ((b >> 1) & 7)/7 of
 *                 the way into the input, then the input, then EOF (b even)
 *                 or a read error (b odd): lines that span a refill, and an
 *                 over-long line skipped across one. After the filler's
 *                 record, the records must be the reference's.
 * The memfd and pipe readings must give exactly the reference's records.
 *
 * Every record is checked: text and labels readable within their stated
 * length (ASan), labels NUL-terminated and non-empty, one line consumed per
 * call, statuses from the documented set, AITAG_END repeated at the end.
 *
 * To fuzz past a known failure, AITAG_FUZZ_SKIP (comma-separated) may hold
 * "textmax": a text article may then exceed max_bytes, and text readings
 * are not compared (the limit is applied or not depending on how the
 * stream delivers its bytes); "ftnul": a fastText label may then be empty
 * (a NUL byte in it ends the name early).
 */
#define _GNU_SOURCE /* fopencookie, memfd_create */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "aitag/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LABELS_PER_DOC 64 /* the reader's documented per-document limit */
#define MAX_KEPT 4096         /* record digests kept for comparisons */

static _Noreturn void fail(const char *what, const aitag_record *rec)
{
    fprintf(stderr, "fuzz_corpus: invariant violated: %s (line %llu)\n", what,
            rec ? (unsigned long long)rec->line : 0ull);
    abort();
}

/* 1 if AITAG_FUZZ_SKIP (a comma-separated list) names this check. */
static int skipped(const char *check)
{
    const char *v = getenv("AITAG_FUZZ_SKIP");
    size_t n = strlen(check);
    for (const char *p = v; p && (p = strstr(p, check)) != NULL; p += n)
        if ((p == v || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return 1;
    return 0;
}

static int skip_textmax, skip_ftnul;

/* ---- a stream that repeats the input and may fail ----------------------- */

#define READ_CHUNK (256u * 1024u) /* the reader's first read */

typedef struct {
    size_t filler;   /* bytes of 'x' (the last one a '\n') before the data */
    const char *data;
    size_t size;
    size_t total;    /* bytes of data delivered before EOF (or the error) */
    size_t pos;      /* in filler + data */
    int fail_at_end; /* 1 = a read error instead of EOF */
} cookie;

static ssize_t cookie_read(void *c_, char *buf, size_t n)
{
    cookie *c = c_;
    size_t end = c->filler + c->total, w = 0;
    if (c->pos >= end)
        return c->fail_at_end ? -1 : 0;
    while (w < n && c->pos < end) {
        if (c->pos < c->filler) {
            size_t k = c->filler - c->pos < n - w ? c->filler - c->pos : n - w;
            memset(buf + w, 'x', k);
            if (c->pos + k == c->filler)
                buf[w + k - 1] = '\n';
            w += k;
            c->pos += k;
            continue;
        }
        size_t k = end - c->pos < n - w ? end - c->pos : n - w;
        memcpy(buf + w, c->data + (c->pos - c->filler), k);
        w += k;
        c->pos += k;
    }
    return (ssize_t)w;
}

static int cookie_close(void *c_)
{
    (void)c_;
    return 0;
}

static FILE *open_cookie(cookie *c)
{
    cookie_io_functions_t io = {cookie_read, NULL, NULL, cookie_close};
    return fopencookie(c, "rb", io);
}

/* ---- a pipe fed in small pieces ------------------------------------------ */

typedef struct {
    int fd;
    const char *data;
    size_t size, piece;
} feeder;

static void *feed(void *f_)
{
    feeder *f = f_;
    for (size_t i = 0; i < f->size;) {
        size_t k = f->size - i < f->piece ? f->size - i : f->piece;
        ssize_t w = write(f->fd, f->data + i, k);
        if (w <= 0)
            break; /* the reader stopped early and closed its end */
        i += (size_t)w;
        sched_yield(); /* give the reader a chance to see a partial line */
    }
    close(f->fd);
    return NULL;
}

/* ---- record checks ------------------------------------------------------ */

static volatile unsigned sink;

static void touch(const char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += (unsigned char)p[i];
    sink += s;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void check_record(const aitag_record *rec, aitag_input_format fmt, size_t max_bytes)
{
    if (!rec->text && rec->text_len)
        fail("NULL text with a length", rec);
    if (rec->text_len > max_bytes && !(skip_textmax && fmt == AITAG_INPUT_TEXT))
        fail("text longer than max_bytes", rec);
    touch(rec->text, rec->text_len);
    if (rec->n_labels > MAX_LABELS_PER_DOC)
        fail("more labels than the per-document limit", rec);
    if (rec->n_labels && (!rec->labels || !rec->has_labels))
        fail("labels counted but no label array", rec);
    for (size_t k = 0; k < rec->n_labels; k++) {
        const char *l = rec->labels[k];
        if (!l)
            fail("NULL label", rec);
        size_t n = strlen(l); /* ASan: must be NUL-terminated inside its block */
        if (n == 0 && !(skip_ftnul && fmt == AITAG_INPUT_FASTTEXT))
            fail("empty label", rec);
        if (n > max_bytes)
            fail("label longer than max_bytes", rec);
        if (fmt == AITAG_INPUT_FASTTEXT && (memchr(l, ' ', n) || memchr(l, '\t', n)))
            fail("fastText label holds a space or tab", rec);
    }
    if (rec->blank)
        fail("blank record returned as AITAG_OK", rec);
    if (fmt == AITAG_INPUT_FASTTEXT) {
        /* labels are taken while the text starts with "__label__" */
        if (!rec->has_labels)
            fail("fastText record without has_labels", rec);
        if (rec->text_len && (rec->text[0] == ' ' || rec->text[0] == '\t'))
            fail("fastText text starts with a blank", rec);
        if (rec->text_len >= 9 && memcmp(rec->text, "__label__", 9) == 0)
            fail("fastText text starts with a label", rec);
    }
}

/* What one reading produced: a digest per record, in order. */
typedef struct {
    uint64_t digest[MAX_KEPT];
    uint64_t loose[MAX_KEPT]; /* the same without line numbers, ids and messages */
    size_t n;            /* records (digests kept: min(n, MAX_KEPT)) */
    aitag_status last;   /* END or IO */
    aitag_input_format fmt;
} reading;

/* strict: everything; loose: what does not depend on the line number */
static uint64_t record_digest(aitag_status rc, const aitag_record *rec, const aitag_error *err, int strict)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix(h, &rc, sizeof rc);
    h = mix(h, &rec->blank, sizeof rec->blank);
    if (strict)
        h = mix(h, &rec->line, sizeof rec->line);
    if (rc != AITAG_OK)
        return strict ? mix(h, err->msg, strlen(err->msg)) : h;
    if (strict)
        h = mix(h, rec->id, strlen(rec->id));
    h = mix(h, &rec->id_is_number, sizeof rec->id_is_number);
    h = mix(h, &rec->text_len, sizeof rec->text_len);
    h = mix(h, rec->text, rec->text_len);
    h = mix(h, &rec->has_labels, sizeof rec->has_labels);
    h = mix(h, &rec->n_labels, sizeof rec->n_labels);
    for (size_t k = 0; k < rec->n_labels; k++)
        h = mix(h, rec->labels[k], strlen(rec->labels[k]) + 1);
    return h;
}

static void read_all(FILE *fp, const aitag_corpus_params *p, uint64_t total_bytes, reading *out)
{
    aitag_corpus_reader *r = NULL;
    aitag_error err;
    memset(&err, 0, sizeof err);
    if (aitag_corpus_open_stream(fp, "fuzz", p, &r, &err) != AITAG_OK || !r)
        fail("cannot open a valid stream", NULL);
    aitag_record rec;
    uint64_t prev_line = 0, calls = 0;
    out->n = 0;
    for (;;) {
        if (++calls > total_bytes + 4)
            fail("more records than input bytes: the reader does not advance", &rec);
        memset(&rec, 0x5A, sizeof rec); /* the reader must set every field */
        memset(&err, 0, sizeof err);
        aitag_status rc = aitag_corpus_next(r, &rec, &err);
        aitag_input_format fmt = aitag_corpus_format(r);
        out->fmt = fmt;
        if (fmt == AITAG_INPUT_AUTO || (p->format != AITAG_INPUT_AUTO && fmt != p->format))
            fail("format not resolved after a read", &rec);
        (void)aitag_corpus_buffered(r);
        if (rc == AITAG_END || rc == AITAG_IO) {
            out->last = rc;
            if (rc == AITAG_END) {
                aitag_record again;
                if (aitag_corpus_next(r, &again, &err) != AITAG_END)
                    fail("a read after AITAG_END did not return AITAG_END", &again);
            }
            break; /* IO: the stream is broken, nothing more to read */
        }
        if (rc != AITAG_OK && rc != AITAG_PARSE && rc != AITAG_LIMIT) {
            fprintf(stderr, "fuzz_corpus: unexpected status %d: %s\n", rc, err.msg);
            fail("status outside OK/END/PARSE/LIMIT/IO", &rec);
        }
        if (rc != AITAG_OK && (err.code != rc || err.msg[0] == '\0' || !memchr(err.msg, '\0', sizeof err.msg)))
            fail("a bad line without its status and message in the error record", &rec);
        if (!rec.id)
            fail("record without an id", &rec);
        touch(rec.id, strlen(rec.id) + 1);
        if (fmt == AITAG_INPUT_TEXT && rec.line != 1)
            fail("text record not on line 1", &rec);
        if (fmt != AITAG_INPUT_TEXT) {
            /* one line per call, numbered from 1 */
            if (rec.line != prev_line + 1)
                fail("line number does not advance by one", &rec);
            prev_line = rec.line;
        }
        if (rec.blank && rc != AITAG_PARSE)
            fail("blank line not reported as AITAG_PARSE", &rec);
        if (rc == AITAG_OK)
            check_record(&rec, fmt, p->max_bytes);
        if (out->n < MAX_KEPT) {
            out->digest[out->n] = record_digest(rc, &rec, &err, 1);
            out->loose[out->n] = record_digest(rc, &rec, &err, 0);
        }
        out->n++;
    }
    aitag_corpus_close(r);
}

/* Reading via memfd (0) or a pipe fed in pieces (piece > 0). */
static void read_fd(const char *buf, size_t n, size_t piece, const aitag_corpus_params *p, reading *out)
{
    int fds[2];
    pthread_t th;
    feeder f;
    FILE *fp;
    if (piece == 0) {
        int fd = memfd_create("fuzz_corpus", 0);
        if (fd < 0 || write(fd, buf, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0 || !(fp = fdopen(fd, "rb")))
            fail("cannot set up a memfd", NULL);
        read_all(fp, p, n, out);
        fclose(fp);
        return;
    }
    if (pipe(fds) != 0)
        fail("cannot make a pipe", NULL);
    f = (feeder){fds[1], buf, n, piece};
    if (pthread_create(&th, NULL, feed, &f) != 0 || !(fp = fdopen(fds[0], "rb")))
        fail("cannot start the pipe feeder", NULL);
    read_all(fp, p, n, out);
    fclose(fp); /* a feeder still writing gets EPIPE and stops */
    pthread_join(th, NULL);
}

static void compare(const reading *ref, const reading *got, int prefix_only)
{
    if (skip_textmax && ref->fmt == AITAG_INPUT_TEXT)
        return;
    if (!prefix_only && (ref->n != got->n || ref->last != got->last || ref->fmt != got->fmt)) {
        fprintf(stderr, "fuzz_corpus: %zu records ending with %d (format %d) from fmemopen, %zu ending with %d (format %d) here\n",
                ref->n, ref->last, ref->fmt, got->n, got->last, got->fmt);
        fail("the records depend on how the stream delivers its bytes", NULL);
    }
    if (got->n > ref->n)
        fail("more records from a truncated stream than from the whole", NULL);
    for (size_t i = 0; i < got->n && i < MAX_KEPT; i++) {
        if (ref->digest[i] != got->digest[i]) {
            fprintf(stderr, "fuzz_corpus: record %zu differs from the fmemopen reading\n", i);
            fail("the records depend on how the stream delivers its bytes", NULL);
        }
    }
}

/* After the filler: got's records from the second on are ref's, with the
 * line numbers shifted (all of them, or a prefix if the stream failed). The
 * first input line loses its byte order mark only at the start of a
 * stream, so with one it is not compared. */
static void compare_after_filler(const reading *ref, const reading *got, int truncated, int bom)
{
    size_t n = got->n - 1;
    if (truncated ? n > ref->n : (n != ref->n || got->last != ref->last)) {
        fprintf(stderr, "fuzz_corpus: %zu records after the filler line, %zu without it\n", n, ref->n);
        fail("records differ when the input follows a long line", NULL);
    }
    for (size_t i = bom ? 1 : 0; i < n && i + 1 < MAX_KEPT; i++) {
        if (ref->loose[i] != got->loose[i + 1]) {
            fprintf(stderr, "fuzz_corpus: record %zu differs after the filler line\n", i);
            fail("records differ when the input follows a long line", NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[8] = {16, 17, 31, 64, 100, 4096, 1u << 20, (size_t)64 << 20};
    static reading ref, got; /* large: not on the stack */
    static int init;
    if (!init) {
        signal(SIGPIPE, SIG_IGN);
        skip_textmax = skipped("textmax");
        skip_ftnul = skipped("ftnul");
        init = 1;
    }
    if (size < 2)
        return 0;
    const uint8_t cfg = data[0], mode = data[1];
    aitag_corpus_params p = aitag_corpus_params_default();
    p.format = (aitag_input_format)(cfg & 3);
    p.max_bytes = maxes[(cfg >> 2) & 7];
    p.labels_required = (cfg >> 5) & 1;
    size_t n = size - 2;

    /* exact-size heap copy so ASan sees reads past the end */
    char *buf = malloc(n ? n : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 2, n);

    FILE *fp = n ? fmemopen(buf, n, "rb") : fopen("/dev/null", "rb");
    if (!fp)
        fail("cannot open the input", NULL);
    read_all(fp, &p, n, &ref);
    fclose(fp);

    cookie ck = {0, buf, n, n, 0, 0};
    if (n && mode >= 0xF0) {
        size_t into = ((mode >> 1) & 7) * n / 7;
        ck.filler = READ_CHUNK - into;
        ck.fail_at_end = mode & 1;
        if ((fp = open_cookie(&ck)) != NULL) {
            read_all(fp, &p, ck.filler + n, &got);
            fclose(fp);
            /* the filler is one record (a line, or the start of the text);
             * in jsonl and fastText the input's records follow it */
            if (ref.fmt != AITAG_INPUT_TEXT && ref.fmt == got.fmt && got.n >= 1)
                compare_after_filler(&ref, &got, ck.fail_at_end, n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0);
        }
    } else if (n && (mode & 3) == 1) {
        ck.total = (mode >> 2) * n / 63;
        ck.fail_at_end = 1;
        if ((fp = open_cookie(&ck)) != NULL) {
            read_all(fp, &p, ck.total, &got);
            fclose(fp);
            /* a stream cut short may resolve "auto" differently */
            if (got.fmt == ref.fmt)
                compare(&ref, &got, 1);
        }
    } else if ((mode & 3) == 2) {
        read_fd(buf, n, 0, &p, &got);
        compare(&ref, &got, 0);
    } else if ((mode & 3) == 3) {
        read_fd(buf, n, 1 + (mode >> 2), &p, &got);
        compare(&ref, &got, 0);
    }
    free(buf);
    return 0;
}
