/*
 * fuzz_corpus.c: libFuzzer target for the corpus reader (aitag_corpus_*).
 *
 * Input layout: byte 0 picks the format, max_bytes and labels_required;
 * byte 1 picks how the stream behaves: plain fmemopen; (b & 3) == 1: a read
 * error after (b >> 2)/63 of the input; 0xFE/0xFF: the input repeated past
 * the reader's 256 KiB read chunk, so that lines span refills and over-long
 * lines are skipped across them. The rest is the stream. Every record is read to the end and checked: text and
 * labels readable within their stated length, labels NUL-terminated and
 * non-empty, one line consumed per record, statuses from the documented set.
 */
#define _GNU_SOURCE /* fopencookie */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "aitag/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LABELS_PER_DOC 64 /* documented in corpus.c's messages */

static void fail(const char *what, const aitag_record *rec)
{
    fprintf(stderr, "fuzz_corpus: invariant violated: %s (line %llu)\n", what,
            rec ? (unsigned long long)rec->line : 0ull);
    abort();
}

/* ---- a stream that repeats the input and may fail ----------------------- */

typedef struct {
    const char *data;
    size_t size;
    uint64_t total;     /* bytes the stream delivers before EOF (or the error) */
    uint64_t pos;
    int fail_at_end;    /* 1 = a read error instead of EOF */
} cookie;

static ssize_t cookie_read(void *c_, char *buf, size_t n)
{
    cookie *c = c_;
    if (c->pos >= c->total) {
        if (c->fail_at_end)
            return -1;
        return 0;
    }
    size_t w = 0;
    while (w < n && c->pos < c->total) {
        size_t at = (size_t)(c->pos % c->size);
        size_t k = c->size - at;
        if (k > n - w)
            k = n - w;
        if (k > c->total - c->pos)
            k = (size_t)(c->total - c->pos);
        memcpy(buf + w, c->data + at, k);
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

/* ---- record checks ------------------------------------------------------ */

static volatile unsigned sink;

static void touch(const char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s += (unsigned char)p[i];
    sink += s;
}

static void check_record(const aitag_record *rec, aitag_input_format fmt, size_t max_bytes)
{
    if (!rec->id)
        fail("record without an id", rec);
    touch(rec->id, strlen(rec->id) + 1);
    if (!rec->text && rec->text_len)
        fail("NULL text with a length", rec);
    if (rec->text_len > max_bytes)
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
        if (n == 0)
            fail("empty label", rec);
        if (n > max_bytes)
            fail("label longer than max_bytes", rec);
        if (fmt == AITAG_INPUT_FASTTEXT && (memchr(l, ' ', n) || memchr(l, '\t', n)))
            fail("fastText label holds a space or tab", rec);
    }
    if (rec->blank)
        fail("blank record returned as AITAG_OK", rec);
    if (fmt == AITAG_INPUT_FASTTEXT) {
        /* labels were taken while the text started with "__label__" */
        if (!rec->has_labels)
            fail("fastText record without has_labels", rec);
        if (rec->text_len && (rec->text[0] == ' ' || rec->text[0] == '\t'))
            fail("fastText text starts with a blank", rec);
        if (rec->text_len >= 9 && memcmp(rec->text, "__label__", 9) == 0)
            fail("fastText text starts with a label", rec);
    }
    if (fmt == AITAG_INPUT_TEXT && rec->line != 1)
        fail("text record not on line 1", rec);
}

static void read_all(FILE *fp, const aitag_corpus_params *p, uint64_t total_bytes)
{
    aitag_corpus_reader *r = NULL;
    aitag_error err;
    memset(&err, 0, sizeof err);
    if (aitag_corpus_open_stream(fp, "fuzz", p, &r, &err) != AITAG_OK || !r)
        fail("cannot open a valid stream", NULL);
    aitag_record rec;
    uint64_t prev_line = 0, calls = 0;
    for (;;) {
        if (++calls > total_bytes + 4)
            fail("more records than input bytes: the reader does not advance", &rec);
        memset(&rec, 0x5A, sizeof rec); /* every field must be set by the reader */
        aitag_status rc = aitag_corpus_next(r, &rec, &err);
        aitag_input_format fmt = aitag_corpus_format(r);
        if (fmt == AITAG_INPUT_AUTO || (p->format != AITAG_INPUT_AUTO && fmt != p->format))
            fail("format not resolved after a read", &rec);
        (void)aitag_corpus_buffered(r);
        if (rc == AITAG_END) {
            aitag_record again;
            if (aitag_corpus_next(r, &again, &err) != AITAG_END)
                fail("a read after AITAG_END did not return AITAG_END", &again);
            break;
        }
        if (rc == AITAG_IO)
            break; /* the stream is broken: nothing more to read */
        if (rc != AITAG_OK && rc != AITAG_PARSE && rc != AITAG_LIMIT) {
            fprintf(stderr, "fuzz_corpus: unexpected status %d: %s\n", rc, err.msg);
            fail("status outside OK/END/PARSE/LIMIT/IO", &rec);
        }
        if (rc != AITAG_OK && err.code != rc)
            fail("error record not filled with the status", &rec);
        if (rc != AITAG_OK && (err.msg[0] == '\0' || !memchr(err.msg, '\0', sizeof err.msg)))
            fail("empty or unterminated error message", &rec);
        if (fmt != AITAG_INPUT_TEXT) {
            /* one line per call, numbered from 1 */
            if (rec.line != prev_line + 1)
                fail("line number does not advance by one", &rec);
            prev_line = rec.line;
            if (!rec.id)
                fail("bad line without an id", &rec);
            touch(rec.id, strlen(rec.id) + 1);
        }
        if (rec.blank && rc != AITAG_PARSE)
            fail("blank line not reported as AITAG_PARSE", &rec);
        if (rc == AITAG_OK)
            check_record(&rec, fmt, p->max_bytes);
    }
    aitag_corpus_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[8] = {16, 17, 31, 64, 100, 4096, 1u << 20, (size_t)64 << 20};
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

    FILE *fp;
    uint64_t total = n;
    cookie ck;
    int repeat = mode >= 0xFE, fails = (mode & 3) == 1;
    if ((!repeat && !fails) || n == 0) {
        fp = n ? fmemopen(buf, n, "rb") : fopen("/dev/null", "rb");
    } else {
        ck.data = buf;
        ck.size = n;
        ck.pos = 0;
        if (!repeat) {
            /* a read error after part of the input */
            ck.total = (uint64_t)(mode >> 2) * n / 63;
            ck.fail_at_end = 1;
        } else {
            /* the input again and again, past two 256 KiB refills (rare:
             * costly) and then EOF (0xFE) or a read error (0xFF) */
            ck.total = (600u * 1024u / n + 1) * n;
            ck.fail_at_end = mode == 0xFF;
        }
        total = ck.total;
        cookie_io_functions_t io = {cookie_read, NULL, NULL, cookie_close};
        fp = fopencookie(&ck, "rb", io);
    }
    if (!fp) {
        free(buf);
        return 0;
    }
    read_all(fp, &p, total);
    fclose(fp);
    free(buf);
    return 0;
}
