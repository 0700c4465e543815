/*
 * check_tokenizer.c: the `tokenizer` suite.
 *
 * The golden cases live in tests/data/tokenize.cases (format described at the
 * top of that file) so a case can be added without touching C. The tests here
 * cover what a data file cannot express: parameters, statistics, character
 * and word n-grams, cancellation, and very large inputs (chunking).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aitag/tokenizer.h"
#include "check_suites.h"

/* ---- collecting terms ---------------------------------------------------- */

typedef struct term {
    char *s; /* NUL-terminated copy (terms never contain NUL) */
    size_t len;
    aitag_term_kind kind;
} term;

typedef struct term_list {
    term *v;
    size_t n, cap;
    long stop_at; /* return non-zero from the callback on this call (1-based); 0 = never */
} term_list;

static int collect(void *ud, const char *s, size_t len, aitag_term_kind kind)
{
    term_list *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        ck_assert_ptr_nonnull(l->v);
    }
    term *t = &l->v[l->n++];
    t->s = malloc(len + 1);
    ck_assert_ptr_nonnull(t->s);
    memcpy(t->s, s, len);
    t->s[len] = '\0';
    t->len = len;
    t->kind = kind;
    return l->stop_at > 0 && (long)l->n >= l->stop_at;
}

static void list_clear(term_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].s);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int is_word_kind(aitag_term_kind k)
{
    return k == AITAG_TERM_WORD || k == AITAG_TERM_CJK || k == AITAG_TERM_HANGUL;
}

static aitag_tokenizer *make_tok(const aitag_tokenizer_params *p)
{
    aitag_tokenizer *t = NULL;
    aitag_error err = {0};
    aitag_status rc = aitag_tokenizer_create(p, &t, &err);
    ck_assert_msg(rc == AITAG_OK, "aitag_tokenizer_create: %s", err.msg);
    ck_assert_ptr_nonnull(t);
    return t;
}

/* Tokenizes with t into l (cleared first); returns the status. */
static aitag_status run(aitag_tokenizer *t, const char *s, size_t n, term_list *l, aitag_tokenize_stats *st)
{
    long stop_at = l->stop_at;
    list_clear(l);
    l->stop_at = stop_at;
    aitag_error err = {0};
    return aitag_tokenize(t, s, n, collect, l, st, &err);
}

/* Joins the terms of the kinds selected by want (NULL = all) with '|'. */
static char *join_terms(const term_list *l, int (*want)(aitag_term_kind))
{
    size_t total = 1;
    for (size_t i = 0; i < l->n; i++)
        total += l->v[i].len + 1;
    char *out = malloc(total);
    ck_assert_ptr_nonnull(out);
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (want && !want(l->v[i].kind))
            continue;
        if (w)
            out[w++] = '|';
        memcpy(out + w, l->v[i].s, l->v[i].len);
        w += l->v[i].len;
    }
    out[w] = '\0';
    return out;
}

/* Terms of one kind, joined with '|'. */
static char *join_kind(const term_list *l, aitag_term_kind kind)
{
    term_list sub = {0};
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].kind == kind)
            collect(&sub, l->v[i].s, l->v[i].len, kind);
    char *s = join_terms(&sub, NULL);
    list_clear(&sub);
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits s at '|' into a NULL-terminated array of pointers into s (modified);
 * an empty s gives no parts. */
static char **split_bar(char *s, size_t *n)
{
    size_t cnt = *s ? 1 : 0;
    for (char *p = s; *p; p++)
        cnt += *p == '|';
    char **v = calloc(cnt + 1, sizeof *v);
    ck_assert_ptr_nonnull(v);
    size_t k = 0;
    if (*s) {
        v[k++] = s;
        for (char *p = s; *p; p++)
            if (*p == '|') {
                *p = '\0';
                v[k++] = p + 1;
            }
    }
    *n = cnt;
    return v;
}

/* Compares "a|b|c" lists as multisets (both strings are modified). */
static int same_multiset(char *a, char *b)
{
    size_t na, nb;
    char **va = split_bar(a, &na), **vb = split_bar(b, &nb);
    int same = na == nb;
    if (same) {
        qsort(va, na, sizeof *va, cmp_str);
        qsort(vb, nb, sizeof *vb, cmp_str);
        for (size_t i = 0; i < na && same; i++)
            same = strcmp(va[i], vb[i]) == 0;
    }
    free(va);
    free(vb);
    return same;
}

/* ---- the cases file ------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(unsigned char *d, uint32_t c)
{
    if (c < 0x80) {
        d[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (unsigned char)(0xC0 | (c >> 6));
        d[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (unsigned char)(0xE0 | (c >> 12));
        d[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (unsigned char)(0xF0 | (c >> 18));
    d[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    d[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* Decodes the escapes of the cases file into a new NUL-terminated buffer
 * (the content may hold NUL bytes; *out_len is its length). NULL and a
 * message in why on a malformed escape. */
static char *decode_escapes(const char *s, size_t n, size_t *out_len, const char **why)
{
    unsigned char *d = malloc(n + 1); /* escapes never grow the text */
    ck_assert_ptr_nonnull(d);
    size_t w = 0;
    *why = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            d[w++] = (unsigned char)s[i];
            continue;
        }
        if (++i >= n) {
            *why = "backslash at the end of the line";
            break;
        }
        switch (s[i]) {
        case 'n': d[w++] = '\n'; break;
        case 't': d[w++] = '\t'; break;
        case 'r': d[w++] = '\r'; break;
        case '\\': d[w++] = '\\'; break;
        case '&': break;
        case 'x': {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1, lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                *why = "\\x needs two hex digits";
                break;
            }
            d[w++] = (unsigned char)(hi * 16 + lo);
            i += 2;
            break;
        }
        case 'u': {
            uint32_t c = 0;
            size_t j = i + 1, digits = 0;
            if (j >= n || s[j] != '{') {
                *why = "\\u needs {hex}";
                break;
            }
            for (j++; j < n && hexval(s[j]) >= 0 && digits < 7; j++, digits++)
                c = c * 16 + (uint32_t)hexval(s[j]);
            if (j >= n || s[j] != '}' || digits == 0 || digits > 6 || c > 0x10FFFF ||
                (c >= 0xD800 && c <= 0xDFFF)) {
                *why = "\\u{...} must hold a Unicode scalar value (use \\x for raw bytes)";
                break;
            }
            w += put_utf8(d + w, c);
            i = j;
            break;
        }
        default:
            *why = "unknown escape";
        }
        if (*why)
            break;
    }
    if (*why) {
        free(d);
        return NULL;
    }
    d[w] = '\0';
    *out_len = w;
    return (char *)d;
}

typedef struct golden_case {
    unsigned line;     /* line of the input in the file */
    char *input;       /* decoded */
    size_t input_len;
    char *words;       /* decoded expected words line */
    char *all;         /* decoded "all:" list, or NULL */
} golden_case;

typedef struct line_span {
    const char *s;
    size_t n;
} line_span;

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(fp);
    *len = n;
    return buf;
}

static char *decode_or_fail(const line_span *l, unsigned lineno, size_t *len)
{
    const char *why;
    char *d = decode_escapes(l->s, l->n, len, &why);
    ck_assert_msg(d != NULL, "tokenize.cases:%u: %s", lineno, why);
    return d;
}

/* Parses the cases file; see its header for the format. */
static golden_case *load_cases(size_t *n_cases)
{
    size_t len;
    char *text = read_file(AITAG_TEST_DATA "/tokenize.cases", &len);
    size_t nl = 0;
    line_span *lines = malloc((len + 2) * sizeof *lines);
    ck_assert_ptr_nonnull(lines);
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        size_t n = e - i;
        if (n && text[i + n - 1] == '\r')
            n--;
        lines[nl].s = text + i;
        lines[nl].n = n;
        nl++;
        i = e + 1;
    }
    golden_case *cases = calloc(nl + 1, sizeof *cases);
    ck_assert_ptr_nonnull(cases);
    size_t nc = 0;
    for (size_t i = 0; i < nl;) {
        if (lines[i].n == 0 || lines[i].s[0] == '#') {
            i++;
            continue;
        }
        golden_case *c = &cases[nc++];
        size_t dummy;
        c->line = (unsigned)(i + 1);
        c->input = decode_or_fail(&lines[i], c->line, &c->input_len);
        ck_assert_msg(i + 1 < nl, "tokenize.cases:%u: case without an expected line", c->line);
        c->words = decode_or_fail(&lines[i + 1], c->line + 1, &dummy);
        i += 2;
        if (i < nl && lines[i].n >= 4 && memcmp(lines[i].s, "all:", 4) == 0) {
            line_span rest = {lines[i].s + 4, lines[i].n - 4};
            if (rest.n && rest.s[0] == ' ') {
                rest.s++;
                rest.n--;
            }
            c->all = decode_or_fail(&rest, (unsigned)(i + 1), &dummy);
            i++;
        }
        /* a case must end with a blank line (or the file): catches a missing
         * expected line, which would otherwise shift every later case */
        ck_assert_msg(i >= nl || lines[i].n == 0, "tokenize.cases:%zu: expected a blank line after the case at line %u",
                      i + 1, c->line);
    }
    free(lines);
    free(text);
    *n_cases = nc;
    return cases;
}

static void free_cases(golden_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].input);
        free(c[i].words);
        free(c[i].all);
    }
    free(c);
}

START_TEST(test_escape_decoder)
{
    const char *why;
    size_t n;
    const char src[] = "a\\x00b\\u{E9}\\u{1F600}\\&\\\\\\n\\t";
    char *d = decode_escapes(src, strlen(src), &n, &why);
    ck_assert_ptr_nonnull(d);
    const char want[] = "a\0b\xC3\xA9\xF0\x9F\x98\x80\\\n\t";
    ck_assert_uint_eq(n, sizeof want - 1);
    ck_assert_mem_eq(d, want, n);
    free(d);
    const char *bad[] = {"\\q", "\\x4", "\\u{D800}", "\\u{110000}", "\\u{}", "\\u41", "ab\\"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        d = decode_escapes(bad[i], strlen(bad[i]), &n, &why);
        ck_assert_msg(d == NULL && why != NULL, "escape \"%s\" should be rejected", bad[i]);
    }
}
END_TEST

START_TEST(test_golden_cases)
{
    size_t n;
    golden_case *cases = load_cases(&n);
    /* the file holds several dozen cases; far fewer means the parser lost some */
    ck_assert_uint_ge(n, 50);

    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    aitag_tokenizer *t = make_tok(&p);
    term_list l = {0};
    size_t failed = 0;
    char first[1024] = "";
    for (size_t i = 0; i < n; i++) {
        const golden_case *c = &cases[i];
        aitag_tokenize_stats st;
        aitag_status rc = run(t, c->input, c->input_len, &l, &st);
        char *got_words = join_terms(&l, is_word_kind);
        char *got_all = join_terms(&l, NULL);
        size_t n_words = 0;
        for (size_t k = 0; k < l.n; k++)
            n_words += is_word_kind(l.v[k].kind);
        int ok = rc == AITAG_OK && strcmp(got_words, c->words) == 0 && st.words == n_words &&
                 st.terms == l.n && st.bytes == c->input_len;
        int all_ok = 1;
        if (c->all) {
            char *a = strdup(got_all), *b = strdup(c->all);
            all_ok = same_multiset(a, b);
            free(a);
            free(b);
        }
        if (!ok || !all_ok) {
            failed++;
            fprintf(stderr,
                    "tokenize.cases:%u: mismatch (status %d, stats.words %llu, stats.terms %llu)\n"
                    "  expected words: %s\n  got words:      %s\n",
                    c->line, (int)rc, (unsigned long long)st.words, (unsigned long long)st.terms, c->words,
                    got_words);
            if (c->all)
                fprintf(stderr, "  expected all:   %s\n  got all:        %s\n", c->all, got_all);
            if (!first[0])
                snprintf(first, sizeof first, "line %u: expected words \"%s\", got \"%s\"%s", c->line, c->words,
                         got_words, all_ok ? "" : " (all: differs)");
        }
        /* the tokenizer reuses its scratch: a second run must give the same */
        char *again = NULL;
        if (run(t, c->input, c->input_len, &l, NULL) == rc)
            again = join_terms(&l, NULL);
        ck_assert_msg(again && strcmp(again, got_all) == 0, "tokenize.cases:%u: second run differs", c->line);
        free(again);
        free(got_words);
        free(got_all);
    }
    list_clear(&l);
    aitag_tokenizer_free(t);
    free_cases(cases, n);
    ck_assert_msg(failed == 0, "%zu of %zu golden cases failed (details on stderr); first: %s", failed, n, first);
}
END_TEST

/* ---- parameters ---------------------------------------------------------- */

START_TEST(test_params_default)
{
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    ck_assert_uint_eq(p.word_ngrams, 2);
    ck_assert_uint_eq(p.char_ngram_min, 0);
    ck_assert_uint_eq(p.char_ngram_max, 0);
    ck_assert_int_eq(p.strip_accents, 0);
    ck_assert_uint_eq(p.max_token_bytes, 64);
    ck_assert_ptr_null(aitag_tokenizer_params_check(&p));

    aitag_tokenizer *t = make_tok(&p);
    const aitag_tokenizer_params *q = aitag_tokenizer_params_of(t);
    ck_assert_uint_eq(q->word_ngrams, p.word_ngrams);
    ck_assert_uint_eq(q->max_token_bytes, p.max_token_bytes);
    aitag_tokenizer_free(t);
    aitag_tokenizer_free(NULL); /* documented no-op */

    /* accent stripping is recorded in the normalisation options */
    aitag_tokenizer_params s = p;
    s.strip_accents = 1;
    ck_assert_int_ne(aitag_tokenizer_utf8proc_options(&s), aitag_tokenizer_utf8proc_options(&p));
}
END_TEST

typedef struct param_case {
    const char *what;
    uint32_t word_ngrams, cmin, cmax;
    int strip;
    uint32_t max_bytes;
    int valid;
} param_case;

START_TEST(test_params_check)
{
    static const param_case cases[] = {
        {"word_ngrams 0", 0, 0, 0, 0, 64, 0},
        {"word_ngrams 5", 5, 0, 0, 0, 64, 0},
        {"char max without min", 2, 0, 3, 0, 64, 0},
        {"char min > max", 2, 4, 3, 0, 64, 0},
        {"char min without max", 2, 3, 0, 0, 64, 0},
        {"char max 9", 2, 3, 9, 0, 64, 0},
        {"strip_accents 2", 2, 0, 0, 2, 64, 0},
        {"strip_accents -1", 2, 0, 0, -1, 64, 0},
        {"max_token_bytes 0", 2, 0, 0, 0, 0, 0},
        {"max_token_bytes 256", 2, 0, 0, 0, 256, 0},
        {"word_ngrams 1", 1, 0, 0, 0, 64, 1},
        {"word_ngrams 4", 4, 0, 0, 0, 64, 1},
        {"char 1..1", 2, 1, 1, 0, 64, 1},
        {"char 8..8", 2, 8, 8, 0, 64, 1},
        {"strip 1", 2, 0, 0, 1, 64, 1},
        {"max_token_bytes 1", 2, 0, 0, 0, 1, 1},
        {"max_token_bytes 255", 2, 0, 0, 0, 255, 1},
    };
    ck_assert_ptr_nonnull(aitag_tokenizer_params_check(NULL));
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const param_case *c = &cases[i];
        aitag_tokenizer_params p = aitag_tokenizer_params_default();
        p.word_ngrams = c->word_ngrams;
        p.char_ngram_min = c->cmin;
        p.char_ngram_max = c->cmax;
        p.strip_accents = c->strip;
        p.max_token_bytes = c->max_bytes;
        const char *why = aitag_tokenizer_params_check(&p);
        static char sentinel;
        aitag_tokenizer *t = (aitag_tokenizer *)(void *)&sentinel; /* create must reset *out on failure */
        aitag_error err = {0};
        aitag_status rc = aitag_tokenizer_create(&p, &t, &err);
        if (c->valid) {
            ck_assert_msg(why == NULL, "%s: rejected: %s", c->what, why);
            ck_assert_msg(rc == AITAG_OK, "%s: create failed", c->what);
            aitag_tokenizer_free(t);
        } else {
            ck_assert_msg(why != NULL && why[0], "%s: accepted", c->what);
            ck_assert_msg(rc == AITAG_INVALID, "%s: create returned %d", c->what, (int)rc);
            ck_assert_msg(t == NULL, "%s: *out not reset", c->what);
            ck_assert_int_eq(err.code, AITAG_INVALID);
            ck_assert_msg(err.msg[0] != '\0', "%s: no message", c->what);
        }
    }
}
END_TEST

/* ---- statistics ---------------------------------------------------------- */

static aitag_tokenize_stats stats_of(aitag_tokenizer *t, const char *s, size_t n)
{
    term_list l = {0};
    aitag_tokenize_stats st;
    memset(&st, 0xAB, sizeof st); /* must be overwritten, not accumulated */
    ck_assert_int_eq(run(t, s, n, &l, &st), AITAG_OK);
    ck_assert_uint_eq(st.terms, l.n);
    list_clear(&l);
    return st;
}

static char *repeat(const char *unit, size_t times)
{
    size_t u = strlen(unit);
    char *s = malloc(u * times + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    s[u * times] = '\0';
    return s;
}

START_TEST(test_stats_counters)
{
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    aitag_tokenizer *t = make_tok(&p);

    static const char nul[] = "ab\0cd\0\0ef";
    aitag_tokenize_stats st = stats_of(t, nul, sizeof nul - 1);
    ck_assert_uint_eq(st.bytes, sizeof nul - 1);
    ck_assert_uint_eq(st.nul_bytes, 3);
    ck_assert_uint_eq(st.words, 3);
    ck_assert_uint_eq(st.terms, 5); /* 3 words + 2 bigrams */
    ck_assert_uint_eq(st.invalid, 0);
    ck_assert_uint_eq(st.dropped_long, 0);

    /* every invalid byte becomes one U+FFFD (tokenizer.h, step 1) */
    static const struct {
        const char *s;
        uint64_t invalid;
    } inv[] = {
        {"a\xFF" "b", 1},           /* byte never valid in UTF-8 */
        {"a\x80" "b", 1},           /* stray continuation byte */
        {"a\xC0\xAF" "b", 2},       /* overlong '/' */
        {"a\xE0\x81\x81" "b", 3},   /* overlong 'A', 3 bytes */
        {"a\xED\xA0\x80" "b", 3},   /* encoded surrogate U+D800 */
        {"a\xF4\x90\x80\x80" "b", 4}, /* above U+10FFFF */
        {"a\xEF\xBF\xBD" "b", 0},   /* a real U+FFFD is valid input */
        {"caf\xC3\xA9", 0},
    };
    for (size_t i = 0; i < sizeof inv / sizeof *inv; i++) {
        st = stats_of(t, inv[i].s, strlen(inv[i].s));
        ck_assert_msg(st.invalid == inv[i].invalid, "case %zu: invalid = %llu, want %llu", i,
                      (unsigned long long)st.invalid, (unsigned long long)inv[i].invalid);
        ck_assert_uint_eq(st.nul_bytes, 0);
    }

    /* max_token_bytes (64 by default) counts bytes: ASCII fast path... */
    char *w64 = repeat("a", 64), *w65 = repeat("a", 65);
    st = stats_of(t, w64, 64);
    ck_assert_uint_eq(st.words, 1);
    ck_assert_uint_eq(st.dropped_long, 0);
    st = stats_of(t, w65, 65);
    ck_assert_uint_eq(st.words, 0);
    ck_assert_uint_eq(st.terms, 0);
    ck_assert_uint_eq(st.dropped_long, 1);
    /* ...and Unicode path: 32 x "é" is 64 bytes, 33 x is 66 */
    char *e32 = repeat("\xC3\xA9", 32), *e33 = repeat("\xC3\xA9", 33);
    st = stats_of(t, e32, strlen(e32));
    ck_assert_uint_eq(st.words, 1);
    ck_assert_uint_eq(st.dropped_long, 0);
    st = stats_of(t, e33, strlen(e33));
    ck_assert_uint_eq(st.words, 0);
    ck_assert_uint_eq(st.dropped_long, 1);
    /* a word much longer than the internal word buffer, between two short ones */
    char *e300 = repeat("\xC3\xA9", 300);
    size_t big_n = strlen(e300) + 4;
    char *big = malloc(big_n + 1);
    ck_assert_ptr_nonnull(big);
    snprintf(big, big_n + 1, "x %s y", e300);
    st = stats_of(t, big, big_n);
    ck_assert_uint_eq(st.words, 2);
    ck_assert_uint_eq(st.dropped_long, 1);
    ck_assert_uint_eq(st.invalid, 0);
    free(w64);
    free(w65);
    free(e32);
    free(e33);
    free(e300);
    free(big);
    aitag_tokenizer_free(t);

    /* a smaller limit */
    p.max_token_bytes = 3;
    t = make_tok(&p);
    term_list l = {0};
    ck_assert_int_eq(run(t, "abc abcd xyz", 12, &l, &st), AITAG_OK);
    char *w = join_terms(&l, is_word_kind);
    ck_assert_str_eq(w, "abc|xyz");
    ck_assert_uint_eq(st.dropped_long, 1);
    free(w);
    list_clear(&l);
    aitag_tokenizer_free(t);
}
END_TEST

/* Each call is a new text: no n-gram joins the last word of one call to the
 * first word of the next. */
START_TEST(test_calls_independent)
{
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    aitag_tokenizer *t = make_tok(&p);
    term_list l = {0};
    ck_assert_int_eq(run(t, "alpha beta", 10, &l, NULL), AITAG_OK);
    ck_assert_int_eq(run(t, "gamma", 5, &l, NULL), AITAG_OK);
    char *all = join_terms(&l, NULL);
    ck_assert_str_eq(all, "gamma");
    free(all);
    ck_assert_int_eq(run(t, "", 0, &l, NULL), AITAG_OK);
    ck_assert_uint_eq(l.n, 0);
    list_clear(&l);
    aitag_tokenizer_free(t);
}
END_TEST

/* ---- normalisation options and n-grams ----------------------------------- */

static char *words_with(const aitag_tokenizer_params *p, const char *text)
{
    aitag_tokenizer *t = make_tok(p);
    term_list l = {0};
    ck_assert_int_eq(run(t, text, strlen(text), &l, NULL), AITAG_OK);
    char *w = join_terms(&l, is_word_kind);
    list_clear(&l);
    aitag_tokenizer_free(t);
    return w;
}

START_TEST(test_strip_accents)
{
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    p.strip_accents = 1;
    /* combining marks go after decomposition; Ø has no decomposition, so it stays */
    char *w = words_with(&p, "caf\xC3\xA9 cafe\xCC\x81 \xC3\x85ngstr\xC3\xB6m na\xC3\xAFve \xC3\x98resund CAF\xC3\x89");
    ck_assert_str_eq(w, "cafe|cafe|angstrom|naive|\xC3\xB8resund|cafe");
    free(w);
    p.strip_accents = 0;
    w = words_with(&p, "caf\xC3\xA9 cafe\xCC\x81");
    ck_assert_str_eq(w, "caf\xC3\xA9|caf\xC3\xA9");
    free(w);
}
END_TEST

static char *chargrams(uint32_t min, uint32_t max, const char *text)
{
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    p.word_ngrams = 1;
    p.char_ngram_min = min;
    p.char_ngram_max = max;
    aitag_tokenizer *t = make_tok(&p);
    term_list l = {0};
    ck_assert_int_eq(run(t, text, strlen(text), &l, NULL), AITAG_OK);
    char *g = join_kind(&l, AITAG_TERM_CHARGRAM);
    char *w = join_terms(&l, is_word_kind);
    ck_assert_str_eq(w, text); /* the word itself is still emitted, once */
    free(w);
    list_clear(&l);
    aitag_tokenizer_free(t);
    return g;
}

static void expect_grams(uint32_t min, uint32_t max, const char *text, const char *want)
{
    char *got = chargrams(min, max, text);
    char *a = strdup(got), *b = strdup(want);
    ck_assert_msg(same_multiset(a, b), "char n-grams %u..%u of \"%s\": got \"%s\", want \"%s\"", min, max, text, got,
                  want);
    free(a);
    free(b);
    free(got);
}

START_TEST(test_char_ngrams)
{
    /* fastText style on "<ai>": the whole bracketed word is never a gram */
    expect_grams(3, 3, "ai", "<ai|ai>");
    expect_grams(3, 8, "ai", "<ai|ai>");
    expect_grams(2, 5, "abc", "<a|ab|bc|c>|<ab|abc|bc>|<abc|abc>");
    /* grams count code points, not bytes */
    expect_grams(2, 2, "\xC3\xA9t\xC3\xA9", "<\xC3\xA9|\xC3\xA9t|t\xC3\xA9|\xC3\xA9>");
    /* a word longer than max: only windows of 3, the bracketed word excluded */
    expect_grams(3, 3, "data", "<da|dat|ata|ta>");
}
END_TEST

START_TEST(test_word_ngrams)
{
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    term_list l = {0};

    p.word_ngrams = 3;
    aitag_tokenizer *t = make_tok(&p);
    ck_assert_int_eq(run(t, "a b c d", 7, &l, NULL), AITAG_OK);
    char *got = join_terms(&l, NULL);
    char want[] = "a|b|a b|c|b c|a b c|d|c d|b c d";
    ck_assert_msg(same_multiset(got, want), "word_ngrams=3 differs");
    free(got);
    for (size_t i = 0; i < l.n; i++) /* n-grams carry their own kind */
        ck_assert_int_eq(l.v[i].kind, strchr(l.v[i].s, ' ') ? AITAG_TERM_NGRAM : AITAG_TERM_WORD);
    aitag_tokenizer_free(t);

    p.word_ngrams = 4;
    t = make_tok(&p);
    ck_assert_int_eq(run(t, "v w x y z", 9, &l, NULL), AITAG_OK);
    got = join_kind(&l, AITAG_TERM_NGRAM);
    char want4[] = "v w|w x|v w x|x y|w x y|v w x y|y z|x y z|w x y z";
    ck_assert_msg(same_multiset(got, want4), "word_ngrams=4 differs");
    free(got);
    aitag_tokenizer_free(t);

    p.word_ngrams = 1;
    t = make_tok(&p);
    ck_assert_int_eq(run(t, "a b c d", 7, &l, NULL), AITAG_OK);
    got = join_terms(&l, NULL);
    ck_assert_str_eq(got, "a|b|c|d");
    free(got);
    aitag_tokenizer_free(t);
    list_clear(&l);
}
END_TEST

START_TEST(test_cancel)
{
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    aitag_tokenizer *t = make_tok(&p);
    static const char *texts[] = {
        "one two three four five",                               /* ASCII path */
        "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAE\xE5\xA4\xA9\xE6\xB0\x97", /* 東京の天気: CJK bigrams */
        "\xEB\x8D\xB0\xEC\x9D\xB4\xED\x84\xB0\xEC\x84\xBC\xED\x84\xB0", /* 데이터센터: Hangul bigrams */
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        for (long stop = 1; stop <= 3; stop++) {
            term_list l = {0};
            l.stop_at = stop;
            aitag_tokenize_stats st;
            aitag_status rc = run(t, texts[i], strlen(texts[i]), &l, &st);
            ck_assert_msg(rc == AITAG_CANCELLED, "text %zu stop %ld: status %d", i, stop, (int)rc);
            ck_assert_msg((long)l.n == stop, "text %zu: %zu calls after asking to stop at %ld", i, l.n, stop);
            ck_assert_uint_eq(st.terms, (uint64_t)stop);
            list_clear(&l);
        }
    }
    /* usable again after a cancel */
    term_list l = {0};
    ck_assert_int_eq(run(t, "one two", 7, &l, NULL), AITAG_OK);
    ck_assert_uint_eq(l.n, 3);
    list_clear(&l);
    aitag_tokenizer_free(t);
}
END_TEST

/* ---- large inputs -------------------------------------------------------- */

/* Counts terms per kind and hashes (kind, term) in order, n-grams excluded. */
typedef struct counter {
    uint64_t by_kind[8];
    uint64_t hash;
    uint64_t bad_bigrams; /* CJK terms that are not two code points */
} counter;

static size_t count_cps(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int count_terms(void *ud, const char *s, size_t len, aitag_term_kind kind)
{
    counter *c = ud;
    c->by_kind[kind & 7]++;
    if (kind == AITAG_TERM_NGRAM)
        return 0;
    if (kind == AITAG_TERM_CJK && len > 4 && count_cps(s, len) != 2)
        c->bad_bigrams++;
    uint64_t h = c->hash ^ (uint64_t)kind;
    h *= 0x100000001b3ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= 0xFF;
    c->hash = h * 0x100000001b3ULL;
    return 0;
}

static uint64_t words_of(const counter *c)
{
    return c->by_kind[AITAG_TERM_WORD] + c->by_kind[AITAG_TERM_CJK] + c->by_kind[AITAG_TERM_HANGUL];
}

/* 10 Han characters, 3 bytes each: 人工智能芯片数据中心 */
static const char HAN10[] = "\xE4\xBA\xBA\xE5\xB7\xA5\xE6\x99\xBA\xE8\x83\xBD\xE8\x8A\xAF"
                            "\xE7\x89\x87\xE6\x95\xB0\xE6\x8D\xAE\xE4\xB8\xAD\xE5\xBF\x83";

START_TEST(test_large_article)
{
    /* One line in six scripts; words per line derived by hand:
     * en 9 (the gpu market grew 3.5 percent to 1,200 units), fr 5 (l ia
     * générative coûte cher), ko 2 Hangul words with 5 + 3 syllable bigrams,
     * ja 8 characters -> 7 bigrams, ru 2, de 4 (die strasse ist gross). */
    static const char line[] =
        "The GPU market grew 3.5 percent to 1,200 units. "
        "L'IA g\xC3\xA9n\xC3\xA9rative co\xC3\xBBte cher. "
        "\xEB\x8D\xB0\xEC\x9D\xB4\xED\x84\xB0\xEC\x84\xBC\xED\x84\xB0\xEC\x97\x90 "
        "\xED\x88\xAC\xEC\x9E\x90\xED\x95\x9C\xEB\x8B\xA4. "
        "\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x81\xAE\xE5\xA4\xA9\xE6\xB0\x97\xE3\x81\xAF\xE6\x99\xB4\xE3\x82\x8C\xE3\x80\x82 "
        "\xD0\x98\xD1\x81\xD0\xBA\xD1\x83\xD1\x81\xD1\x81\xD1\x82\xD0\xB2\xD0\xB5\xD0\xBD\xD0\xBD\xD1\x8B\xD0\xB9 "
        "\xD0\xB8\xD0\xBD\xD1\x82\xD0\xB5\xD0\xBB\xD0\xBB\xD0\xB5\xD0\xBA\xD1\x82. "
        "Die Stra\xC3\x9F" "e ist gro\xC3\x9F.\n";
    const uint64_t words_per_line = 9 + 5 + 2 + 7 + 2 + 4, hangul_bigrams_per_line = 5 + 3;
    const size_t line_len = sizeof line - 1;
    const size_t run_bytes = (size_t)5 << 20; /* 5 MiB of Han, no separator */
    const size_t run_chars = run_bytes / 3;
    const size_t total_target = (size_t)50 << 20;
    const size_t lines = (total_target - run_bytes) / line_len;

    size_t cap = lines * line_len + run_chars * 3 + 2;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    size_t n = 0;
    for (size_t i = 0; i < lines / 2; i++, n += line_len)
        memcpy(text + n, line, line_len);
    for (size_t i = 0; i < run_chars; i++, n += 3)
        memcpy(text + n, HAN10 + (i % 10) * 3, 3);
    text[n++] = '\n';
    for (size_t i = lines / 2; i < lines; i++, n += line_len)
        memcpy(text + n, line, line_len);
    ck_assert_uint_ge(n, (size_t)45 << 20);

    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    aitag_tokenizer *t = make_tok(&p);
    counter whole = {0};
    aitag_tokenize_stats st;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_tokenize(t, text, n, count_terms, &whole, &st, &err), AITAG_OK);
    ck_assert_uint_eq(st.bytes, n);
    ck_assert_uint_eq(st.invalid, 0);
    ck_assert_uint_eq(st.nul_bytes, 0);
    ck_assert_uint_eq(st.dropped_long, 0);
    ck_assert_uint_eq(whole.bad_bigrams, 0);
    ck_assert_uint_eq(st.words, words_of(&whole));

    /* the Han run gives run_chars-1 bigrams, less at most one per 64 KiB chunk cut */
    uint64_t run_bigrams = st.words - lines * words_per_line;
    uint64_t max_cuts = run_bytes / (64 * 1024 - 4) + 1;
    ck_assert_msg(st.words >= lines * words_per_line && run_bigrams <= run_chars - 1 &&
                      run_bigrams + max_cuts >= run_chars - 1,
                  "words %llu: run gave %llu bigrams for %zu characters", (unsigned long long)st.words,
                  (unsigned long long)run_bigrams, run_chars);
    ck_assert_uint_eq(whole.by_kind[AITAG_TERM_HANGUL], 2 * lines);
    ck_assert_uint_eq(whole.by_kind[AITAG_TERM_HANGUL_BIGRAM], hangul_bigrams_per_line * lines);
    /* nothing is dropped, so the bigram sequence never breaks: one per word but the first */
    ck_assert_uint_eq(whole.by_kind[AITAG_TERM_NGRAM], st.words - 1);
    ck_assert_uint_eq(st.terms, 2 * st.words - 1 + hangul_bigrams_per_line * lines);

    /* fed line by line, the same terms come out in the same order (n-grams
     * aside, as they join words across lines only in the whole text) */
    counter parts = {0};
    uint64_t part_words = 0;
    for (size_t s = 0; s < n;) {
        const char *nl = memchr(text + s, '\n', n - s);
        size_t e = nl ? (size_t)(nl - text) + 1 : n;
        ck_assert_int_eq(aitag_tokenize(t, text + s, e - s, count_terms, &parts, &st, &err), AITAG_OK);
        part_words += st.words;
        s = e;
    }
    ck_assert_uint_eq(parts.hash, whole.hash);
    ck_assert_uint_eq(part_words, words_of(&whole));
    for (int k = AITAG_TERM_WORD; k <= AITAG_TERM_CHARGRAM; k++)
        if (k != AITAG_TERM_NGRAM)
            ck_assert_uint_eq(parts.by_kind[k], whole.by_kind[k]);

    aitag_tokenizer_free(t);
    free(text);
}
END_TEST

/* Follows the bigrams of a Han run through its characters: each must be the
 * next pair, or skip exactly one pair (a chunk cut). */
typedef struct bigram_walk {
    const char *const *chars; /* UTF-8 of each character of the run */
    size_t n_chars, pos, skips, bad;
} bigram_walk;

static int pair_at(const bigram_walk *w, size_t i, const char *s, size_t len)
{
    if (i + 1 >= w->n_chars)
        return 0;
    size_t a = strlen(w->chars[i]), b = strlen(w->chars[i + 1]);
    return len == a + b && memcmp(s, w->chars[i], a) == 0 && memcmp(s + a, w->chars[i + 1], b) == 0;
}

static int walk_bigrams(void *ud, const char *s, size_t len, aitag_term_kind kind)
{
    bigram_walk *w = ud;
    if (kind != AITAG_TERM_CJK)
        return 0;
    if (pair_at(w, w->pos, s, len)) {
        w->pos++;
    } else if (pair_at(w, w->pos + 1, s, len)) {
        w->pos += 2;
        w->skips++;
    } else {
        w->bad++;
    }
    return 0;
}

START_TEST(test_long_cjk_run)
{
    /* 3-byte and 4-byte Han characters mixed, so chunk cuts land inside
     * sequences of both lengths: 人 工 智 能 𠮷 (U+20BB7) 𠀀 (U+20000) */
    static const char *const alphabet[] = {"\xE4\xBA\xBA", "\xE5\xB7\xA5", "\xE6\x99\xBA", "\xE8\x83\xBD",
                                           "\xF0\xA0\xAE\xB7", "\xF0\xA0\x80\x80"};
    const size_t n_chars = 100000;
    const char **chars = malloc(n_chars * sizeof *chars);
    char *text = malloc(n_chars * 4 + 1);
    ck_assert_ptr_nonnull(chars);
    ck_assert_ptr_nonnull(text);
    size_t n = 0;
    uint32_t rng = 12345;
    for (size_t i = 0; i < n_chars; i++) {
        rng = rng * 1103515245u + 12345u;
        chars[i] = alphabet[(rng >> 16) % 6];
        size_t k = strlen(chars[i]);
        memcpy(text + n, chars[i], k);
        n += k;
    }
    ck_assert_uint_gt(n, 4 * 64 * 1024); /* several chunks */

    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    p.word_ngrams = 1;
    aitag_tokenizer *t = make_tok(&p);
    bigram_walk w = {chars, n_chars, 0, 0, 0};
    aitag_tokenize_stats st;
    aitag_error err = {0};
    ck_assert_int_eq(aitag_tokenize(t, text, n, walk_bigrams, &w, &st, &err), AITAG_OK);
    ck_assert_uint_eq(st.invalid, 0); /* no cut splits a UTF-8 sequence */
    ck_assert_uint_eq(w.bad, 0);
    ck_assert_uint_eq(w.pos, n_chars - 1); /* reached the last pair */
    ck_assert_uint_eq(st.words, n_chars - 1 - w.skips);
    ck_assert_uint_le(w.skips, n / (64 * 1024 - 4) + 1);
    aitag_tokenizer_free(t);
    free(text);
    free(chars);
}
END_TEST

static int count_only(void *ud, const char *s, size_t n, aitag_term_kind k)
{
    (void)s;
    (void)n;
    (void)k;
    ++*(uint64_t *)ud;
    return 0;
}

/* CPU time of this thread: other work on the machine does not skew a ratio */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best of 3 times to tokenize n bytes of 'a' ending in "é" (with the stats). */
static double time_ascii_run(aitag_tokenizer *t, size_t n, aitag_tokenize_stats *st)
{
    char *text = malloc(n + 2);
    ck_assert_ptr_nonnull(text);
    memset(text, 'a', n);
    memcpy(text + n, "\xC3\xA9", 2);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        uint64_t terms = 0;
        aitag_error err = {0};
        double t0 = now_s();
        ck_assert_int_eq(aitag_tokenize(t, text, n + 2, count_only, &terms, st, &err), AITAG_OK);
        double dt = now_s() - t0;
        if (dt < best)
            best = dt;
    }
    free(text);
    return best;
}

START_TEST(test_long_ascii_run_linear)
{
    /* A long ASCII run that ends in a non-ASCII letter goes to the Unicode
     * path in 64 KiB chunks; the run must not be rescanned from each chunk's
     * end. 16 times the input must take about 16 times as long, not 256. */
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    aitag_tokenizer *t = make_tok(&p);
    aitag_tokenize_stats small_st, big_st;
    const size_t small = (size_t)2 << 20, big = (size_t)32 << 20;
    double ts = time_ascii_run(t, small, &small_st);
    double tb = time_ascii_run(t, big, &big_st);
    /* every chunk of the run is one over-long word, dropped and counted */
    ck_assert_uint_le(small_st.words, 1); /* the short tail after the last cut */
    ck_assert_uint_ge(small_st.dropped_long, small / (64 * 1024));
    ck_assert_uint_le(small_st.dropped_long, small / (60 * 1024) + 1);
    ck_assert_uint_ge(big_st.dropped_long, big / (64 * 1024));
    ck_assert_uint_le(big_st.dropped_long, big / (60 * 1024) + 1);
    ck_assert_msg(tb < 32 * ts + 0.05, "16x the input took %.1fx the time (%.4f s vs %.4f s)", tb / ts, tb, ts);
    aitag_tokenizer_free(t);
}
END_TEST

Suite *tokenizer_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escape_decoder);
    tcase_add_test(tc, test_golden_cases);
    tcase_add_test(tc, test_params_default);
    tcase_add_test(tc, test_params_check);
    tcase_add_test(tc, test_stats_counters);
    tcase_add_test(tc, test_calls_independent);
    tcase_add_test(tc, test_strip_accents);
    tcase_add_test(tc, test_char_ngrams);
    tcase_add_test(tc, test_word_ngrams);
    tcase_add_test(tc, test_cancel);
    suite_add_tcase(s, tc);
    TCase *big = tcase_create("large");
    tcase_set_timeout(big, 300);
    tcase_add_test(big, test_long_cjk_run);
    tcase_add_test(big, test_large_article);
    tcase_add_test(big, test_long_ascii_run_linear);
    suite_add_tcase(s, big);
    return s;
}
