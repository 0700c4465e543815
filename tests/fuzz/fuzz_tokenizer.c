/*
 * fuzz_tokenizer.c: libFuzzer target for aitag_tokenize.
 *
 * Input layout: byte 0 picks the tokenizer parameters, byte 1 tells the
 * callback to stop after (b & 31) terms (0 = never), the rest is the text.
 * (The 64 KiB chunk cut is not fuzzed: an input that long costs some 30 ms
 * per run under instrumentation, and such inputs took over the corpus.) Every term is checked against the rules of
 * include/aitag/tokenizer.h in the callback; a violation calls abort(), which
 * libFuzzer reports as a crash with the input saved.
 *
 * Beyond the per-term rules, three whole-run properties are checked:
 *  - a tokenizer reused across inputs gives the same terms as a fresh one
 *    (no state leaks from one call to the next);
 *  - the stats agree with the callbacks actually made;
 *  - replacing ASCII spaces by U+00A0 (which NFKC maps back to a space)
 *    changes nothing: this forces ASCII words through the Unicode path,
 *    which the header promises gives the same result as the ASCII fast path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aitag/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Noreturn void fail(const char *what, const char *term, size_t len)
{
    fprintf(stderr, "fuzz_tokenizer: invariant violated: %s (term of %zu bytes: \"", what, len);
    for (size_t i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)term[i];
        if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02X", c);
    }
    fprintf(stderr, "\")\n");
    abort();
}

/* Strict RFC 3629 UTF-8: no overlongs, no surrogates, nothing past U+10FFFF.
 * Returns the number of code points, or -1. */
static long utf8_count(const unsigned char *s, size_t n)
{
    long cps = 0;
    for (size_t i = 0; i < n; cps++) {
        unsigned c = s[i];
        size_t k;
        uint32_t v, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1, v = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2, v = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, v = c & 0x07, min = 0x10000;
        } else {
            return -1;
        }
        if (n - i - 1 < k)
            return -1;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return -1;
            v = v << 6 | (s[i + j] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return -1;
        i += k + 1;
    }
    return cps;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A word (of any script) holds letters, marks and digits only: its ASCII
 * bytes are [a-z0-9] (case-folded), plus '.' or ',' between two digits. It
 * never holds U+FFFD, which separates words. */
static const char *word_problem(const unsigned char *w, size_t n)
{
    if (n == 0)
        return "empty word";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = w[i];
        if (c >= 0x80 || (c >= 'a' && c <= 'z') || is_digit(c))
            continue;
        if ((c == '.' || c == ',') && i > 0 && i + 1 < n && is_digit(w[i - 1]) && is_digit(w[i + 1]))
            continue;
        return "word holds an ASCII byte other than [a-z0-9] (or a '.'/',' not between digits)";
    }
    for (size_t i = 0; i + 2 < n; i++)
        if (w[i] == 0xEF && w[i + 1] == 0xBF && w[i + 2] == 0xBD)
            return "word holds U+FFFD";
    return NULL;
}

typedef struct {
    const aitag_tokenizer_params *p;
    uint64_t stop_after;   /* 0 = never ask to stop */
    uint64_t calls, word_calls;
    int stopped;           /* the callback returned non-zero */
    uint64_t hash;         /* of the whole term sequence (kinds + bytes) */
    char last[4 * AITAG_MAX_TOKEN_BYTES + 8]; /* last word-like term */
    size_t last_len;
    int have_last;
} run_state;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void check_term(run_state *s, const char *term, size_t len, aitag_term_kind kind)
{
    const aitag_tokenizer_params *p = s->p;
    const unsigned char *u = (const unsigned char *)term;
    const size_t mtb = p->max_token_bytes;
    if (s->stopped)
        fail("callback called after it asked to stop", term, len);
    if (len == 0 || term == NULL)
        fail("empty term", "", 0);
    if (len > 4 * (size_t)mtb + 3)
        fail("term longer than 4*max_token_bytes+3 bytes", term, len);
    long cps = utf8_count(u, len);
    if (cps < 0)
        fail("term is not valid UTF-8", term, len);
    const char *why;
    switch (kind) {
    case AITAG_TERM_WORD:
    case AITAG_TERM_HANGUL:
    case AITAG_TERM_CJK:
        if (len > mtb)
            fail("word longer than max_token_bytes", term, len);
        if ((why = word_problem(u, len)))
            fail(why, term, len);
        if (kind == AITAG_TERM_CJK && cps > 2)
            fail("CJK term with more than two characters", term, len);
        s->word_calls++;
        memcpy(s->last, term, len);
        s->last_len = len;
        s->have_last = 1;
        break;
    case AITAG_TERM_HANGUL_BIGRAM:
        if (cps != 2 || len > 8)
            fail("Hangul bigram is not two characters", term, len);
        if ((why = word_problem(u, len)))
            fail(why, term, len);
        break;
    case AITAG_TERM_NGRAM: {
        if (p->word_ngrams < 2)
            fail("word n-gram emitted with word_ngrams = 1", term, len);
        if (len > (size_t)p->word_ngrams * (mtb + 1) - 1)
            fail("word n-gram longer than word_ngrams * (max_token_bytes + 1) - 1", term, len);
        unsigned spaces = 0;
        size_t start = 0;
        for (size_t i = 0; i <= len; i++) {
            if (i < len && term[i] != ' ')
                continue;
            if (i - start > mtb)
                fail("word n-gram part longer than max_token_bytes", term, len);
            if ((why = word_problem(u + start, i - start)))
                fail(why, term, len);
            if (i < len)
                spaces++;
            start = i + 1;
        }
        if (spaces < 1 || spaces > p->word_ngrams - 1)
            fail("word n-gram with a wrong number of words", term, len);
        /* the n-gram ends with the word just emitted */
        if (!s->have_last || s->last_len + 1 > len || term[len - s->last_len - 1] != ' ' ||
            memcmp(term + len - s->last_len, s->last, s->last_len) != 0)
            fail("word n-gram does not end with the word just emitted", term, len);
        break;
    }
    case AITAG_TERM_CHARGRAM: {
        if (p->char_ngram_min == 0)
            fail("character n-gram emitted while they are off", term, len);
        if (cps < (long)p->char_ngram_min || cps > (long)p->char_ngram_max)
            fail("character n-gram length outside [char_ngram_min, char_ngram_max]", term, len);
        if (len > mtb + 2)
            fail("character n-gram longer than max_token_bytes + 2", term, len);
        /* a piece of "<word>" for the word just emitted, but not all of it */
        char whole[AITAG_MAX_TOKEN_BYTES + 3];
        if (!s->have_last || s->last_len > mtb)
            fail("character n-gram without a word before it", term, len);
        whole[0] = '<';
        memcpy(whole + 1, s->last, s->last_len);
        whole[s->last_len + 1] = '>';
        size_t wl = s->last_len + 2;
        int found = 0;
        for (size_t i = 0; !found && i + len <= wl; i++)
            found = memcmp(whole + i, term, len) == 0;
        if (!found)
            fail("character n-gram is not part of \"<word>\"", term, len);
        if (len == wl)
            fail("character n-gram is the whole \"<word>\"", term, len);
        break;
    }
    default:
        fail("unknown term kind", term, len);
    }
}

static int on_term(void *ud, const char *term, size_t len, aitag_term_kind kind)
{
    run_state *s = ud;
    check_term(s, term, len, kind);
    s->calls++;
    s->hash = mix(s->hash, &kind, sizeof kind);
    s->hash = mix(s->hash, &len, sizeof len);
    s->hash = mix(s->hash, term, len);
    if (s->stop_after && s->calls >= s->stop_after) {
        s->stopped = 1;
        return 1;
    }
    return 0;
}

/* Tokenizes and checks the whole-run properties; returns the run's state. */
static run_state run(aitag_tokenizer *t, const char *text, size_t len, uint64_t stop_after)
{
    run_state s;
    memset(&s, 0, sizeof s);
    s.p = aitag_tokenizer_params_of(t);
    s.stop_after = stop_after;
    s.hash = 0xcbf29ce484222325ull;
    aitag_tokenize_stats st;
    memset(&st, 0xAB, sizeof st); /* must be overwritten */
    aitag_error err;
    memset(&err, 0, sizeof err);
    aitag_status rc = aitag_tokenize(t, text, len, on_term, &s, &st, &err);
    if (rc != (s.stopped ? AITAG_CANCELLED : AITAG_OK)) {
        fprintf(stderr, "fuzz_tokenizer: status %d (%s), stopped=%d\n", rc, err.msg, s.stopped);
        abort();
    }
    uint64_t nuls = 0;
    for (size_t i = 0; i < len; i++)
        nuls += text[i] == '\0';
    if (st.bytes != len || st.terms != s.calls || st.words != s.word_calls || st.invalid > len ||
        st.nul_bytes > nuls || (!s.stopped && st.nul_bytes != nuls) || st.words > st.terms) {
        fprintf(stderr,
                "fuzz_tokenizer: stats disagree: bytes %llu/%zu terms %llu/%llu words %llu/%llu "
                "nul %llu/%llu invalid %llu\n",
                (unsigned long long)st.bytes, len, (unsigned long long)st.terms, (unsigned long long)s.calls,
                (unsigned long long)st.words, (unsigned long long)s.word_calls,
                (unsigned long long)st.nul_bytes, (unsigned long long)nuls, (unsigned long long)st.invalid);
        abort();
    }
    return s;
}

static aitag_tokenizer_params params_from(uint8_t b)
{
    static const uint32_t cg[8][2] = {{0, 0}, {0, 0}, {0, 0}, {1, 1}, {2, 4}, {3, 5}, {1, 8}, {8, 8}};
    static const uint32_t mtb[4] = {64, 255, 5, 1};
    aitag_tokenizer_params p = aitag_tokenizer_params_default();
    p.word_ngrams = 1u + (b & 3u);
    p.char_ngram_min = cg[(b >> 2) & 7][0];
    p.char_ngram_max = cg[(b >> 2) & 7][1];
    p.strip_accents = (b >> 5) & 1;
    p.max_token_bytes = mtb[(b >> 6) & 3];
    return p;
}

static aitag_tokenizer *make(const aitag_tokenizer_params *p)
{
    aitag_tokenizer *t = NULL;
    aitag_error err;
    memset(&err, 0, sizeof err);
    if (aitag_tokenizer_create(p, &t, &err) != AITAG_OK || !t) {
        fprintf(stderr, "fuzz_tokenizer: cannot create a tokenizer: %s\n", err.msg);
        abort();
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* one long-lived tokenizer per parameter set: its scratch carries over
     * from input to input, as in a real program */
    static aitag_tokenizer *cached[256];
    if (size < 2)
        return 0;
    const uint8_t pbyte = data[0], mode = data[1];
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    aitag_tokenizer_params p = params_from(pbyte);
    if (!cached[pbyte])
        cached[pbyte] = make(&p);

    /* copy to an exact-size heap block so ASan sees any read past the end */
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return 0;
    memcpy(buf, text, len);
    uint64_t stop_after = mode & 0x1F;

    run_state a = run(cached[pbyte], buf, len, stop_after);
    aitag_tokenizer *fresh = make(&p);
    run_state b = run(fresh, buf, len, stop_after);
    if (a.hash != b.hash || a.calls != b.calls) {
        fprintf(stderr, "fuzz_tokenizer: a reused tokenizer gave other terms than a fresh one\n");
        abort();
    }

    /* spaces -> U+00A0 must not change the terms (ASCII fast path == Unicode path) */
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++)
        spaces += buf[i] == ' ';
    if (spaces && !stop_after) {
        char *nb = malloc(len + spaces);
        if (nb) {
            size_t w = 0;
            for (size_t i = 0; i < len; i++) {
                if (buf[i] == ' ') {
                    nb[w++] = '\xC2';
                    nb[w++] = '\xA0';
                } else {
                    nb[w++] = buf[i];
                }
            }
            run_state c = run(fresh, nb, w, 0);
            if (c.hash != a.hash || c.calls != a.calls) {
                fprintf(stderr, "fuzz_tokenizer: replacing spaces by U+00A0 changed the terms "
                                "(%llu terms before, %llu after)\n",
                        (unsigned long long)a.calls, (unsigned long long)c.calls);
                abort();
            }
            free(nb);
        }
    }
    aitag_tokenizer_free(fresh);
    free(buf);
    return 0;
}
