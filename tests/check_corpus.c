/*
 * check_corpus.c: the `corpus` suite (aitag_corpus_*: jsonl, fastText, text,
 * format detection, bad lines, limits, streams).
 *
 * Every test writes its input to a temporary file made with mkstemp, so the
 * file name in error messages is known and unique.
 */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aitag/corpus.h"
#include "check_suites.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct tmpfile_t {
    char path[256];
} tmpfile_t;

static void write_temp(tmpfile_t *f, const char *data, size_t n)
{
    const char *dir = getenv("TMPDIR");
    snprintf(f->path, sizeof f->path, "%s/aitag-corpus-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(f->path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    FILE *fp = fdopen(fd, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

static void write_temp_str(tmpfile_t *f, const char *s) { write_temp(f, s, strlen(s)); }

static aitag_corpus_reader *open_labelled(const tmpfile_t *f, aitag_input_format fmt, size_t max_bytes,
                                          int labels_required)
{
    aitag_corpus_params p = aitag_corpus_params_default();
    p.labels_required = labels_required;
    p.format = fmt;
    if (max_bytes)
        p.max_bytes = max_bytes;
    aitag_corpus_reader *r = NULL;
    aitag_error err = {0};
    aitag_status rc = aitag_corpus_open(f->path, &p, &r, &err);
    ck_assert_msg(rc == AITAG_OK, "open %s: %s", f->path, err.msg);
    ck_assert_ptr_nonnull(r);
    unlink(f->path); /* the open file stays readable; nothing is left behind if a check fails */
    return r;
}

static aitag_corpus_reader *open_with(const tmpfile_t *f, aitag_input_format fmt, size_t max_bytes)
{
    return open_labelled(f, fmt, max_bytes, 0);
}

static int text_is(const aitag_record *rec, const char *s)
{
    return rec->text_len == strlen(s) && memcmp(rec->text, s, rec->text_len) == 0;
}

/* Reads a record that must be OK, with the given line and text. */
static void expect_ok(aitag_corpus_reader *r, aitag_record *rec, uint64_t line, const char *text)
{
    aitag_error err = {0};
    aitag_status rc = aitag_corpus_next(r, rec, &err);
    ck_assert_msg(rc == AITAG_OK, "line %llu: status %d (%s)", (unsigned long long)line, (int)rc, err.msg);
    ck_assert_uint_eq(rec->line, line);
    ck_assert_int_eq(rec->blank, 0);
    if (text)
        ck_assert_msg(text_is(rec, text), "line %llu: text \"%.*s\", want \"%s\"", (unsigned long long)line,
                      (int)rec->text_len, rec->text, text);
}

static void expect_end(aitag_corpus_reader *r)
{
    aitag_record rec;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_corpus_next(r, &rec, &err), AITAG_END);
    ck_assert_int_eq(aitag_corpus_next(r, &rec, &err), AITAG_END); /* and stays there */
}

/* 1 if msg names the file and, after it, holds line as a whole number. */
static int msg_names(const char *msg, const char *name, uint64_t line)
{
    const char *p = strstr(msg, name);
    if (!p)
        return 0;
    p += strlen(name);
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)line);
    size_t wl = strlen(want);
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            continue;
        size_t k = 0;
        while (p[k] >= '0' && p[k] <= '9')
            k++;
        if (k == wl && memcmp(p, want, wl) == 0)
            return 1;
        p += k - 1;
    }
    return 0;
}

/* Reads a record that must fail with code at line, with a message naming the file and line. */
static void expect_bad(aitag_corpus_reader *r, const char *name, aitag_record *rec, aitag_status code, uint64_t line)
{
    aitag_error err = {0};
    aitag_status rc = aitag_corpus_next(r, rec, &err);
    ck_assert_msg(rc == code, "line %llu: status %d, want %d (%s)", (unsigned long long)line, (int)rc, (int)code,
                  err.msg);
    ck_assert_int_eq(err.code, code);
    ck_assert_uint_eq(rec->line, line);
    ck_assert_msg(msg_names(err.msg, name, line), "line %llu: message \"%s\" does not name %s and the line",
                  (unsigned long long)line, err.msg, name);
}

static char *repeat_char(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- jsonl --------------------------------------------------------------- */

START_TEST(test_jsonl_records)
{
    tmpfile_t f;
    write_temp_str(&f, "{\"id\":\"a1\",\"title\":\"Nvidia\",\"text\":\"builds GPUs\",\"labels\":[\"chips\",\"ai\"]}\n"
                       "{\"id\":42,\"text\":\"second\",\"labels\":[]}\n"
                       "{\"text\":\"third\"}\n"
                       "{\"id\":-7,\"text\":\"neg\",\"title\":\"\"}\n"
                       "{\"id\":3.5,\"text\":\"frac\",\"title\":null}\n"
                       "{\"id\":null,\"text\":\"caf\\u00e9 \\ud83d\\ude00\",\"labels\":null}\n");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_AUTO, 0);
    aitag_record rec;

    expect_ok(r, &rec, 1, NULL);
    ck_assert_int_eq(aitag_corpus_format(r), AITAG_INPUT_JSONL);
    ck_assert_str_eq(rec.id, "a1");
    ck_assert_int_eq(rec.id_is_number, 0);
    /* the title comes first, then the text, with only white space between */
    ck_assert_uint_gt(rec.text_len, strlen("Nvidia") + strlen("builds GPUs"));
    ck_assert_mem_eq(rec.text, "Nvidia", 6);
    ck_assert_mem_eq(rec.text + rec.text_len - 11, "builds GPUs", 11);
    for (size_t i = 6; i < rec.text_len - 11; i++)
        ck_assert_msg(rec.text[i] == ' ' || rec.text[i] == '\n', "title and text joined by non-space 0x%02x",
                      (unsigned char)rec.text[i]);
    ck_assert_int_eq(rec.has_labels, 1);
    ck_assert_uint_eq(rec.n_labels, 2);
    ck_assert_str_eq(rec.labels[0], "chips");
    ck_assert_str_eq(rec.labels[1], "ai");

    expect_ok(r, &rec, 2, "second");
    ck_assert_str_eq(rec.id, "42");
    ck_assert_int_eq(rec.id_is_number, 1);
    ck_assert_int_eq(rec.has_labels, 1);
    ck_assert_uint_eq(rec.n_labels, 0);

    expect_ok(r, &rec, 3, "third");
    ck_assert_str_eq(rec.id, "3"); /* no id: the line number */
    ck_assert_int_eq(rec.id_is_number, 0);
    ck_assert_int_eq(rec.has_labels, 0);
    ck_assert_uint_eq(rec.n_labels, 0);

    expect_ok(r, &rec, 4, "neg"); /* an empty title adds nothing */
    ck_assert_str_eq(rec.id, "-7");
    ck_assert_int_eq(rec.id_is_number, 1);

    expect_ok(r, &rec, 5, "frac");
    ck_assert_str_eq(rec.id, "3.5");
    ck_assert_int_eq(rec.id_is_number, 1);

    expect_ok(r, &rec, 6, "caf\xC3\xA9 \xF0\x9F\x98\x80"); /* JSON escapes decoded to UTF-8 */
    ck_assert_str_eq(rec.id, "6");
    ck_assert_int_eq(rec.has_labels, 0);

    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

/* "\u0000" is valid JSON; the record carries a length, so the text after it
 * must not vanish silently (a PARSE error would be acceptable too). */
START_TEST(test_jsonl_escaped_nul)
{
    tmpfile_t f;
    write_temp_str(&f, "{\"text\":\"abc\\u0000def\"}\n{\"text\":\"next\"}\n");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_JSONL, 0);
    aitag_record rec;
    aitag_error err = {0};
    aitag_status rc = aitag_corpus_next(r, &rec, &err);
    ck_assert_msg(rc == AITAG_OK || rc == AITAG_PARSE, "status %d", (int)rc);
    if (rc == AITAG_OK)
        ck_assert_msg(rec.text_len == 7 && memcmp(rec.text, "abc\0def", 7) == 0,
                      "text after \\u0000 lost: got %zu bytes \"%.*s\"", rec.text_len, (int)rec.text_len, rec.text);
    expect_ok(r, &rec, 2, "next");
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

/* "One JSON object per line": anything after the object makes the line
 * malformed; accepting it would silently drop a second object. */
START_TEST(test_jsonl_trailing_garbage)
{
    tmpfile_t f;
    write_temp_str(&f, "{\"text\":\"a\"}{\"text\":\"b\"}\n{\"text\":\"x\"} trailing\n{\"text\":\"ok\"}\n");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_JSONL, 0);
    aitag_record rec;
    expect_bad(r, f.path, &rec, AITAG_PARSE, 1);
    expect_bad(r, f.path, &rec, AITAG_PARSE, 2);
    expect_ok(r, &rec, 3, "ok");
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

START_TEST(test_labels_required)
{
    tmpfile_t f;
    write_temp_str(&f, "{\"text\":\"no labels\"}\n{\"text\":\"some\",\"labels\":[\"x\"]}\n");
    aitag_corpus_params p = aitag_corpus_params_default();
    p.labels_required = 1;
    aitag_corpus_reader *r = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_corpus_open(f.path, &p, &r, &err), AITAG_OK);
    unlink(f.path);
    aitag_record rec;
    expect_bad(r, f.path, &rec, AITAG_PARSE, 1);
    expect_ok(r, &rec, 2, "some");
    ck_assert_uint_eq(rec.n_labels, 1);
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

/* Builds "[[[...]]]" nested depth times. */
static char *nested_arrays(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

START_TEST(test_jsonl_bad_lines)
{
    char *deep = nested_arrays(5000);
    const char *lines[] = {
        "{\"id\":\"ok1\",\"text\":\"fine\",\"labels\":[]}",
        "{\"text\": \"unterminated",                       /* 2 malformed */
        "{\"title\":\"only a title\"}",                     /* 3 missing text */
        "{\"text\": 5}",                                    /* 4 text not a string */
        "{\"text\":\"x\",\"labels\":\"a\"}",                /* 5 labels not an array */
        "{\"text\":\"x\",\"labels\":[\"a\",1]}",            /* 6 non-string label */
        "{\"text\":\"x\",\"labels\":[\"\"]}",               /* 7 empty label */
        "{\"text\":\"a\",\"text\":\"b\"}",                  /* 8 duplicate key */
        NULL,                                               /* 9 deep nesting, filled below */
        "[\"not an object\"]",                              /* 10 */
        "{\"id\":true,\"text\":\"x\"}",                     /* 11 id neither string nor number */
        "{\"id\":\"doc12\",\"text\":\"x\",\"labels\":[1]}", /* 12 bad, but the id is readable */
        "{\"id\":\"last\",\"text\":\"fine\",\"labels\":[]}",
    };
    const size_t n_lines = sizeof lines / sizeof *lines;
    size_t cap = 2 * 5000 + 4096, len = 0;
    char *data = malloc(cap);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n_lines; i++) {
        if (i == 8)
            len += (size_t)snprintf(data + len, cap - len, "{\"text\":\"x\",\"extra\":%s}\n", deep);
        else
            len += (size_t)snprintf(data + len, cap - len, "%s\n", lines[i]);
    }
    ck_assert_uint_lt(len, cap);
    tmpfile_t f;
    write_temp(&f, data, len);

    aitag_corpus_reader *r = open_labelled(&f, AITAG_INPUT_AUTO, 0, 1);
    aitag_record rec;
    expect_ok(r, &rec, 1, "fine");
    for (uint64_t line = 2; line <= 12; line++) {
        expect_bad(r, f.path, &rec, AITAG_PARSE, line);
        ck_assert_int_eq(rec.blank, 0);
        if (line == 12)
            ck_assert_str_eq(rec.id, "doc12");
    }
    expect_ok(r, &rec, 13, "fine");
    ck_assert_str_eq(rec.id, "last");
    expect_end(r);
    aitag_corpus_close(r);

    /* a reader that does not need labels takes the articles whose labels
     * field is malformed (5, 6, 7, 12), without labels */
    write_temp(&f, data, len);
    r = open_labelled(&f, AITAG_INPUT_AUTO, 0, 0);
    expect_ok(r, &rec, 1, "fine");
    for (uint64_t line = 2; line <= 12; line++) {
        if (line == 5 || line == 6 || line == 7 || line == 12) {
            expect_ok(r, &rec, line, "x");
            ck_assert_int_eq(rec.has_labels, 0);
            ck_assert_uint_eq(rec.n_labels, 0);
            if (line == 12)
                ck_assert_str_eq(rec.id, "doc12");
        } else {
            expect_bad(r, f.path, &rec, AITAG_PARSE, line);
        }
    }
    expect_ok(r, &rec, 13, "fine");
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
    free(data);
    free(deep);
}
END_TEST

START_TEST(test_blank_lines)
{
    tmpfile_t f;
    write_temp_str(&f, "{\"text\":\"a\"}\n\n\r\n{\"text\":\"b\"}\n");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_JSONL, 0);
    aitag_record rec;
    expect_ok(r, &rec, 1, "a");
    expect_bad(r, f.path, &rec, AITAG_PARSE, 2);
    ck_assert_int_eq(rec.blank, 1);
    expect_bad(r, f.path, &rec, AITAG_PARSE, 3); /* "\r\n": empty once the CR is dropped */
    ck_assert_int_eq(rec.blank, 1);
    expect_ok(r, &rec, 4, "b");
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

START_TEST(test_crlf_and_no_final_newline)
{
    tmpfile_t f;
    /* fastText shows the CR: JSON would skip it as white space anyway */
    write_temp_str(&f, "__label__x hello\r\n__label__y\r\n__label__z last line");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_AUTO, 0);
    aitag_record rec;
    expect_ok(r, &rec, 1, "hello");
    ck_assert_int_eq(aitag_corpus_format(r), AITAG_INPUT_FASTTEXT);
    ck_assert_uint_eq(rec.n_labels, 1);
    ck_assert_str_eq(rec.labels[0], "x");
    expect_ok(r, &rec, 2, "");
    ck_assert_uint_eq(rec.n_labels, 1);
    ck_assert_str_eq(rec.labels[0], "y"); /* not "y\r" */
    expect_ok(r, &rec, 3, "last line");
    ck_assert_str_eq(rec.labels[0], "z");
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);

    write_temp_str(&f, "{\"text\":\"a\"}\r\n{\"text\":\"b\"}");
    r = open_with(&f, AITAG_INPUT_JSONL, 0);
    expect_ok(r, &rec, 1, "a");
    expect_ok(r, &rec, 2, "b");
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

/* ---- fastText, text, detection ------------------------------------------- */

START_TEST(test_fasttext)
{
    tmpfile_t f;
    write_temp_str(&f, "__label__sports __label__world Some text here\n"
                       "__label__tech\tTab separated\n"
                       "no labels at all\n"
                       "__label__a __label__b\n"
                       "__label__ empty\n"
                       "__label__ok fine\n");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_FASTTEXT, 0);
    aitag_record rec;
    expect_ok(r, &rec, 1, "Some text here");
    ck_assert_str_eq(rec.id, "1");
    ck_assert_uint_eq(rec.n_labels, 2);
    ck_assert_str_eq(rec.labels[0], "sports");
    ck_assert_str_eq(rec.labels[1], "world");
    expect_ok(r, &rec, 2, "Tab separated");
    ck_assert_uint_eq(rec.n_labels, 1);
    ck_assert_str_eq(rec.labels[0], "tech");
    expect_ok(r, &rec, 3, "no labels at all");
    ck_assert_uint_eq(rec.n_labels, 0);
    expect_ok(r, &rec, 4, "");
    ck_assert_uint_eq(rec.n_labels, 2);
    ck_assert_str_eq(rec.labels[1], "b");
    expect_bad(r, f.path, &rec, AITAG_PARSE, 5); /* "__label__" with no name */
    expect_ok(r, &rec, 6, "fine");
    ck_assert_str_eq(rec.labels[0], "ok");
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

typedef struct detect_case {
    const char *data;
    aitag_input_format want;
} detect_case;

START_TEST(test_auto_detection)
{
    static const detect_case cases[] = {
        {"{\"text\":\"x\"}\n", AITAG_INPUT_JSONL},
        {"\xEF\xBB\xBF{\"text\":\"x\"}\n", AITAG_INPUT_JSONL},
        {"\n  \t{\"text\":\"x\"}\n", AITAG_INPUT_JSONL},
        {"__label__a text\n", AITAG_INPUT_FASTTEXT},
        {"\xEF\xBB\xBF__label__a text\n", AITAG_INPUT_FASTTEXT},
        {"Just an article.\n{\"text\":\"x\"}\n", AITAG_INPUT_TEXT},
        {"__label", AITAG_INPUT_TEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tmpfile_t f;
        write_temp_str(&f, cases[i].data);
        aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_AUTO, 0);
        aitag_record rec;
        aitag_error err = {0};
        aitag_status rc = aitag_corpus_next(r, &rec, &err);
        ck_assert_msg(aitag_corpus_format(r) == cases[i].want, "case %zu: format %d, want %d", i,
                      (int)aitag_corpus_format(r), (int)cases[i].want);
        if (i == 2) { /* the leading blank line is reported, then the object is read */
            ck_assert_int_eq(rc, AITAG_PARSE);
            ck_assert_int_eq(rec.blank, 1);
            expect_ok(r, &rec, 2, "x");
        } else {
            ck_assert_msg(rc == AITAG_OK, "case %zu: status %d (%s)", i, (int)rc, err.msg);
        }
        if (i == 1)
            ck_assert(text_is(&rec, "x"));
        if (i == 4) { /* the BOM is not part of the first label */
            ck_assert_uint_eq(rec.n_labels, 1);
            ck_assert_str_eq(rec.labels[0], "a");
        }
        aitag_corpus_close(r);
        unlink(f.path);
    }
}
END_TEST

START_TEST(test_text_format)
{
    tmpfile_t f;
    const char body[] = "First line\n{\"not\": \"json\"}\n\nlast";
    char data[sizeof body + 3] = "\xEF\xBB\xBF";
    memcpy(data + 3, body, sizeof body);
    write_temp_str(&f, data);
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_TEXT, 0);
    aitag_record rec;
    expect_ok(r, &rec, 1, body); /* whole file, BOM dropped, blank lines kept */
    ck_assert_str_eq(rec.id, f.path);
    ck_assert_uint_eq(rec.n_labels, 0);
    ck_assert_int_eq(rec.has_labels, 0);
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

/* A text larger than max_bytes: a limit error on line 1, then the end. */
START_TEST(test_text_format_limit)
{
    tmpfile_t f;
    aitag_record rec;
    char *big = repeat_char('w', 5000);
    write_temp_str(&f, big);
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_TEXT, 1000);
    expect_bad(r, f.path, &rec, AITAG_LIMIT, 1);
    aitag_record rec2;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_corpus_next(r, &rec2, &err), AITAG_END);
    aitag_corpus_close(r);
    unlink(f.path);
    free(big);
}
END_TEST

/* corpus.h: "a CR before each LF [is] dropped" - stated for every format. */
START_TEST(test_text_format_crlf)
{
    tmpfile_t f;
    write_temp_str(&f, "line one\r\nline two\r\n");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_TEXT, 0);
    aitag_record rec;
    expect_ok(r, &rec, 1, NULL);
    ck_assert_msg(memchr(rec.text, '\r', rec.text_len) == NULL, "CR kept in text format: \"%.*s\"",
                  (int)rec.text_len, rec.text);
    ck_assert(text_is(&rec, "line one\nline two\n"));
    aitag_corpus_close(r);
    unlink(f.path);
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

/* A jsonl line of exactly len bytes: {"text":"aaa..."} */
static char *json_line_of(size_t len)
{
    ck_assert_uint_ge(len, 11);
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, "{\"text\":\"", 9);
    memset(s + 9, 'a', len - 11);
    memcpy(s + len - 2, "\"}", 3);
    return s;
}

START_TEST(test_line_limit)
{
    const size_t max = 1000;
    char *huge = json_line_of((size_t)1 << 20); /* longer than the reader's read chunk, too */
    char *exact = json_line_of(max), *over = json_line_of(max + 1);
    size_t cap = 2 * strlen(huge) + strlen(exact) + strlen(over) + 256, len = 0; /* huge appears twice */
    char *data = malloc(cap);
    ck_assert_ptr_nonnull(data);
    len += (size_t)snprintf(data + len, cap - len, "{\"text\":\"first\"}\n%s\n{\"text\":\"after huge\"}\n", huge);
    len += (size_t)snprintf(data + len, cap - len, "%s\n%s\n{\"text\":\"after over\"}\n%s", exact, over, huge);
    ck_assert_uint_lt(len, cap);
    tmpfile_t f;
    write_temp(&f, data, len);

    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_AUTO, max);
    aitag_record rec;
    expect_ok(r, &rec, 1, "first");
    expect_bad(r, f.path, &rec, AITAG_LIMIT, 2);
    expect_ok(r, &rec, 3, "after huge");
    expect_ok(r, &rec, 4, NULL); /* exactly max bytes is accepted */
    ck_assert_uint_eq(rec.text_len, max - 11);
    expect_bad(r, f.path, &rec, AITAG_LIMIT, 5);
    expect_ok(r, &rec, 6, "after over");
    expect_bad(r, f.path, &rec, AITAG_LIMIT, 7); /* too long and no final newline */
    expect_end(r);
    aitag_corpus_close(r);
    unlink(f.path);
    free(data);
    free(huge);
    free(exact);
    free(over);
}
END_TEST

/* Each malformed line's message gives the column and the reason. */
START_TEST(test_json_error_messages)
{
    char *deep = nested_arrays(1500);
    static const struct {
        const char *line;
        unsigned col;
        const char *reason;
    } cases[] = {
        {"{\"text\": \"x\", }", 13, "trailing comma"},
        {"{\"text\": [1, 2,]}", 15, "trailing comma"},
        {"{\"text\": \"unterminated", 10, "unterminated string"},
        {"{\"text\": \"\\ud800 alone\"}", 11, "lone surrogate"},
        {"{\"text\": \"\\udc00\"}", 11, "lone surrogate"},
        {"{\"text\": \"caf\xC3\xA9\" \"x\"}", 17, "expected ',' or '}'"},
        {"{\"text\": \"\\q\"}", 11, "invalid escape"},
        {"{text: \"x\"}", 2, "member name in double quotes"},
        {"{\"text\" \"x\"}", 9, "expected ':'"},
        {"{\"text\": 'x'}", 10, "single quotes"},
        {"{\"text\": \"x\"", 13, "unterminated object"},
        {"{\"text\": \"x\", \"id\": 01}", 21, "not a valid JSON number"},
        {NULL, 1001, "nesting too deep"},
    };
    const size_t n = sizeof cases / sizeof *cases;
    size_t cap = 4 * 1500 + 4096, len = 0;
    char *data = malloc(cap);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(data + len, cap - len, "%s\n", cases[i].line ? cases[i].line : deep);
    tmpfile_t f;
    write_temp(&f, data, len);
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_JSONL, 0);
    for (size_t i = 0; i < n; i++) {
        aitag_record rec;
        aitag_error err = {0};
        ck_assert_int_eq(aitag_corpus_next(r, &rec, &err), AITAG_PARSE);
        char col[32];
        snprintf(col, sizeof col, "column %u:", cases[i].col);
        ck_assert_msg(strstr(err.msg, col) && strstr(err.msg, cases[i].reason),
                      "line %zu: \"%s\" lacks \"%s\" or \"%s\"", i + 1, err.msg, col, cases[i].reason);
    }
    expect_end(r);
    aitag_corpus_close(r);
    free(data);
    free(deep);
}
END_TEST

/* A numeric id comes back exactly as written; a number JSON does not allow is refused. */
START_TEST(test_numeric_id_as_written)
{
    tmpfile_t f;
    write_temp_str(&f, "{\"id\": 0.1, \"text\": \"a\"}\n"
                       "{\"text\": \"b\", \"id\":12345678901234567890}\n"
                       "{\"title\": {\"id\": 5}, \"\\u0069d\": -1.50e+3, \"text\": \"c\"}\n"
                       "{\"id\": 1e999, \"text\": \"d\"}\n"
                       "{\"id\": 0, \"text\": \"e\"}\n"
                       "{\"id\": 1.0, \"text\": \"f\"}\n");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_JSONL, 0);
    static const char *const want[] = {"0.1", "12345678901234567890", "-1.50e+3", "1e999", "0", "1.0"};
    aitag_record rec;
    for (uint64_t i = 0; i < 6; i++) {
        aitag_error err = {0};
        aitag_status rc = aitag_corpus_next(r, &rec, &err);
        if (i == 2) { /* a title that is an object is refused, but the id found is the top-level one */
            ck_assert_int_eq(rc, AITAG_PARSE);
            continue;
        }
        ck_assert_msg(rc == AITAG_OK, "line %llu: %s", (unsigned long long)i + 1, err.msg);
        ck_assert_int_eq(rec.id_is_number, 1);
        ck_assert_str_eq(rec.id, want[i]);
    }
    expect_end(r);
    aitag_corpus_close(r);

    write_temp_str(&f, "{\"id\": -1.50e+3, \"text\": \"c\", \"x\": {\"id\": 5}}\n"
                       "\xEF\xBB\xBF{\"id\": 7.0, \"text\": \"d\"}\n"
                       "{\f\"id\"\v:\x01 8, \"text\": \"e\"}\n");
    r = open_with(&f, AITAG_INPUT_JSONL, 0);
    expect_ok(r, &rec, 1, "c");
    ck_assert_str_eq(rec.id, "-1.50e+3");
    expect_ok(r, &rec, 2, "d"); /* a byte order mark inside the file, before a numeric id */
    ck_assert_str_eq(rec.id, "7.0");
    expect_ok(r, &rec, 3, "e"); /* control characters that cJSON takes for white space */
    ck_assert_str_eq(rec.id, "8");
    aitag_corpus_close(r);
}
END_TEST

/* Regressions found by fuzz_corpus (tests/fuzz/regressions/corpus-*). */
START_TEST(test_fuzz_regressions)
{
    aitag_record rec;
    /* auto format: the whole small file is read while detecting the format,
     * and the size limit must still apply */
    tmpfile_t f;
    write_temp_str(&f, "a text article of forty-two bytes, at least");
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_AUTO, 16);
    expect_bad(r, f.path, &rec, AITAG_LIMIT, 1);
    aitag_corpus_close(r);

    /* a NUL byte inside a fastText label is refused, not cut short */
    static const char ft[] = "__label__sports\0x text one\n__label__ok text two\n";
    write_temp(&f, ft, sizeof ft - 1);
    r = open_with(&f, AITAG_INPUT_FASTTEXT, 0);
    expect_bad(r, f.path, &rec, AITAG_PARSE, 1);
    expect_ok(r, &rec, 2, "text two");
    ck_assert_str_eq(rec.labels[0], "ok");
    aitag_corpus_close(r);

    /* a numeric id far beyond integers is kept as a number, without undefined behaviour */
    write_temp_str(&f, "{\"id\": 1e300, \"text\": \"x\"}\n{\"id\": -7, \"text\": \"y\"}\n");
    r = open_with(&f, AITAG_INPUT_JSONL, 0);
    expect_ok(r, &rec, 1, "x");
    ck_assert_int_eq(rec.id_is_number, 1);
    ck_assert_str_eq(rec.id, "1e300"); /* as written */
    expect_ok(r, &rec, 2, "y");
    ck_assert_str_eq(rec.id, "-7");
    expect_end(r);
    aitag_corpus_close(r);
}
END_TEST

/* A raw NUL byte is not JSON: the line is refused rather than cut short; and a
 * BOM counts on the first line only, even when that line was refused. */
START_TEST(test_raw_nul_and_late_bom)
{
    aitag_record rec;
    tmpfile_t f;
    static const char nul[] = "{\"text\": \"alpha\0beta gamma\"}\n{\"text\": \"ok\"}\n";
    write_temp(&f, nul, sizeof nul - 1);
    aitag_corpus_reader *r = open_with(&f, AITAG_INPUT_JSONL, 0);
    expect_bad(r, f.path, &rec, AITAG_PARSE, 1);
    expect_ok(r, &rec, 2, "ok");
    expect_end(r);
    aitag_corpus_close(r);

    write_temp_str(&f, "\xEF\xBB\xBF__label__a a line longer than twenty\n\xEF\xBB\xBF__label__b text\n");
    r = open_with(&f, AITAG_INPUT_FASTTEXT, 20);
    expect_bad(r, f.path, &rec, AITAG_LIMIT, 1);
    /* a BOM inside the input is not dropped: line 2 does not start with a label */
    expect_ok(r, &rec, 2, "\xEF\xBB\xBF__label__b text");
    ck_assert_uint_eq(rec.n_labels, 0);
    expect_end(r);
    aitag_corpus_close(r);
}
END_TEST

START_TEST(test_open_errors)
{
    aitag_corpus_params p = aitag_corpus_params_default();
    ck_assert_int_eq(p.format, AITAG_INPUT_AUTO);
    ck_assert_uint_eq(p.max_bytes, (size_t)64 << 20);
    ck_assert_int_eq(p.labels_required, 0);

    static char sentinel;
    aitag_corpus_reader *r = (aitag_corpus_reader *)(void *)&sentinel;
    aitag_error err = {0};
    const char *missing = "/nonexistent-dir-aitag/none.jsonl";
    ck_assert_int_eq(aitag_corpus_open(missing, &p, &r, &err), AITAG_IO);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(err.code, AITAG_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, missing));

    tmpfile_t f;
    write_temp_str(&f, "{\"text\":\"x\"}\n");
    p.max_bytes = 8;
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(aitag_corpus_open(f.path, &p, &r, &err), AITAG_INVALID);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(err.code, AITAG_INVALID);
    unlink(f.path);
    aitag_corpus_close(NULL); /* documented no-op */
}
END_TEST

/* ---- streams ------------------------------------------------------------- */

START_TEST(test_stream)
{
    static const char data[] = "{\"id\":\"s1\",\"text\":\"one\"}\n"
                               "not json\n"
                               "{\"id\":\"s3\",\"text\":\"three\"}\n";
    FILE *fp = tmpfile();
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, sizeof data - 1, fp), sizeof data - 1);
    rewind(fp);

    aitag_corpus_params p = aitag_corpus_params_default();
    aitag_corpus_reader *r = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_corpus_open_stream(fp, "my-stream", &p, &r, &err), AITAG_OK);
    aitag_record rec;
    expect_ok(r, &rec, 1, "one");
    ck_assert_str_eq(rec.id, "s1");
    /* the rest of this small input is already read: lines 2 and 3 */
    ck_assert_uint_eq(aitag_corpus_buffered(r), strlen("not json\n{\"id\":\"s3\",\"text\":\"three\"}\n"));
    expect_bad(r, "my-stream", &rec, AITAG_PARSE, 2);
    expect_ok(r, &rec, 3, "three");
    ck_assert_uint_eq(aitag_corpus_buffered(r), 0);
    expect_end(r);
    aitag_corpus_close(r);

    /* the reader does not close the stream: it is still ours to use and close */
    rewind(fp);
    char first[8] = {0};
    ck_assert_uint_eq(fread(first, 1, 7, fp), 7);
    ck_assert_str_eq(first, "{\"id\":\"");
    fclose(fp);
}
END_TEST

/* A record must come out as soon as its line has arrived on a slow stream
 * (corpus.h: aitag_corpus_buffered exists to flush a batch "before blocking
 * on a slow stream"). A writer process sends one line, then waits up to 5 s
 * for the reader to acknowledge it; the second line says whether the
 * acknowledgement came. No timing is measured: 5 s is only a give-up bound. */
START_TEST(test_stream_line_at_a_time)
{
    int data[2], ack[2];
    ck_assert_int_eq(pipe(data), 0);
    ck_assert_int_eq(pipe(ack), 0);
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(data[0]);
        close(ack[1]);
        static const char l1[] = "{\"text\":\"first\"}\n";
        if (write(data[1], l1, sizeof l1 - 1) < 0)
            _exit(1);
        struct pollfd pf = {ack[0], POLLIN, 0};
        char b;
        int acked = poll(&pf, 1, 5000) == 1 && read(ack[0], &b, 1) == 1;
        const char *l2 = acked ? "{\"text\":\"acked\"}\n" : "{\"text\":\"timed out\"}\n";
        if (write(data[1], l2, strlen(l2)) < 0)
            _exit(1);
        close(data[1]);
        _exit(0);
    }
    close(data[1]);
    close(ack[0]);
    FILE *fp = fdopen(data[0], "rb");
    ck_assert_ptr_nonnull(fp);
    aitag_corpus_params p = aitag_corpus_params_default();
    p.format = AITAG_INPUT_JSONL;
    aitag_corpus_reader *r = NULL;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_corpus_open_stream(fp, "pipe", &p, &r, &err), AITAG_OK);
    aitag_record rec;
    expect_ok(r, &rec, 1, "first");
    ck_assert_uint_eq(aitag_corpus_buffered(r), 0); /* nothing more has arrived */
    ck_assert_int_eq(write(ack[1], "k", 1), 1);
    expect_ok(r, &rec, 2, NULL);
    int status = 0;
    waitpid(pid, &status, 0);
    ck_assert_msg(text_is(&rec, "acked"), "the first record came out only after the writer gave up (\"%.*s\")",
                  (int)rec.text_len, rec.text);
    expect_end(r);
    aitag_corpus_close(r);
    fclose(fp);
    close(ack[1]);
}
END_TEST

Suite *corpus_suite(void)
{
    Suite *s = suite_create("corpus");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_jsonl_records);
    tcase_add_test(tc, test_jsonl_escaped_nul);
    tcase_add_test(tc, test_jsonl_trailing_garbage);
    tcase_add_test(tc, test_labels_required);
    tcase_add_test(tc, test_jsonl_bad_lines);
    tcase_add_test(tc, test_json_error_messages);
    tcase_add_test(tc, test_numeric_id_as_written);
    tcase_add_test(tc, test_blank_lines);
    tcase_add_test(tc, test_crlf_and_no_final_newline);
    tcase_add_test(tc, test_fasttext);
    tcase_add_test(tc, test_auto_detection);
    tcase_add_test(tc, test_text_format);
    tcase_add_test(tc, test_text_format_limit);
    tcase_add_test(tc, test_text_format_crlf);
    tcase_add_test(tc, test_line_limit);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_fuzz_regressions);
    tcase_add_test(tc, test_raw_nul_and_late_bom);
    tcase_add_test(tc, test_stream);
    tcase_add_test(tc, test_stream_line_at_a_time);
    suite_add_tcase(s, tc);
    return s;
}
